"""What every table shares: the base table, date and window formatting, links."""

import datetime as dt

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from dashboard.selectors import CLOSING_SOON_DAYS

DATE = "%d %b %Y"
# Dates and ids read badly when broken over lines.
NOWRAP = {"td": {"class": "nowrap"}}


def fmt_date(day: dt.date | None) -> str:
    return day.strftime(DATE) if day else ""


def fmt_window(start: dt.date | None, end: dt.date | None) -> str:
    if not start:
        return ""
    if start == end:
        return fmt_date(start)
    if start.year == end.year:
        return f"{start:%d %b} – {end:{DATE}}"
    return f"{fmt_date(start)} – {fmt_date(end)}"


def fmt_local(moment: dt.datetime, tz) -> str:
    """A due time in the site's time zone. Midnight is the close of the previous day's window."""
    local = moment.astimezone(tz)
    if local.time() == dt.time(0):
        return f"end of {fmt_date(local.date() - dt.timedelta(days=1))}"
    return local.strftime(f"{DATE} %H:%M")


def days_text(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f"closed {-days} d ago"
    if days == 0:
        return "closes today"
    return f"{days} d"


def days_left_html(days: int | None):
    """Days to the window end, red once closed and amber when it closes within CLOSING_SOON_DAYS
    (the same horizon as the worklist's "Windows closing" list)."""
    cls = ""
    if days is not None:
        cls = "late" if days < 0 else ("soon" if days <= CLOSING_SOON_DAYS else "")
    return format_html('<span class="{}">{}</span>', cls, days_text(days))


def with_next(url: str, next_url: str | None) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def participant_link(participant) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("dashboard:participant", args=[participant.pk]),
        participant.label,
    )


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "data"}
        template_name = "django_tables2/table.html"
        orderable = False
        empty_text = "Nothing here."
