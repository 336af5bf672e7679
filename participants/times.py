"""How a moment is shown, in one place: in a site's time zone with that zone's abbreviation
("2026-03-10 11:00 EDT"), UTC on hover, as a <time> element. Used by the dashboard's templates
(dashboard/templatetags/times.py), its tables and the admin's lists (participants.admin). Dates are
YYYY-MM-DD everywhere (sle001/formats), the format the date inputs take."""

import datetime as dt

from django.utils.html import format_html

from participants.models import zone

MINUTE = "%Y-%m-%d %H:%M"


def zone_of(where) -> dt.tzinfo:
    """A Site (its time zone), a zone name, a tzinfo; UTC when nothing is given."""
    if where is None or where == "":
        return dt.UTC
    if isinstance(where, dt.tzinfo):
        return where
    if isinstance(where, str):
        return zone(where)
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
