"""Template filters for times, in a site's zone with UTC on hover (participants/times.py):

{% load times %}{{ change.changed_at|site_time:participant.site }}
"""

from django import template
from django.utils import timezone

from participants.times import MINUTE, local_text, local_time_html, zone_of

register = template.Library()

__all__ = ["MINUTE", "local_text", "local_time_html", "zone_of", "site_time", "zoned"]


@register.filter
def zoned(moment):
    """{{ moment|zoned }}: local_time_html in the zone in force (a page that activated a site's)."""
    return local_time_html(moment, timezone.get_current_timezone())


@register.filter
def site_time(moment, where=None):
    """{{ moment|site_time:site }} (a Site, a zone name; UTC when left out)."""
    return local_time_html(moment, where)
