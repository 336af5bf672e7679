"""How a moment is shown, in one place: in a site's time zone with that zone's abbreviation
("2026-03-10 11:00 EDT"), UTC on hover, as a <time> element. Dates are YYYY-MM-DD everywhere
(sle001/formats, dashboard.tables.base.DATE), the format the date inputs take.

    {% load times %}{{ change.changed_at|site_time:participant.site }}
"""

import datetime as dt
import zoneinfo

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

MINUTE = "%Y-%m-%d %H:%M"


def zone_of(where) -> dt.tzinfo:
    """A Site (its time zone), a zone name, a tzinfo; UTC when nothing is given."""
    if where is None or where == "":
        return dt.UTC
    if isinstance(where, dt.tzinfo):
        return where
    if isinstance(where, str):
        return zoneinfo.ZoneInfo(where)
    return where.tz


def local_text(moment: dt.datetime, where=None) -> str:
    """The moment in the zone of `where`, with its abbreviation: 2026-03-10 11:00 EDT."""
    return moment.astimezone(zone_of(where)).strftime(f"{MINUTE} %Z")


def local_time_html(moment: dt.datetime | None, where=None):
    """The moment as local_text, in a <time> whose title gives it in UTC."""
    if moment is None:
        return ""
    utc = moment.astimezone(dt.UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime(MINUTE),
        local_text(moment, where),
    )


@register.filter
def zoned(moment):
    """{{ moment|zoned }}: local_time_html in the zone in force (a page that activated a site's)."""
    return local_time_html(moment, timezone.get_current_timezone())


@register.filter
def site_time(moment, where=None):
    """{{ moment|site_time:site }} (a Site, a zone name; UTC when left out)."""
    return local_time_html(moment, where)
