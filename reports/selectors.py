"""Reads for the reports: the status history of the sites shown, as of a month's last day.

Two queries whatever the number of participants (the sites, then the history rows dated up to
the month's end). Which sites a user may see is participants.access's answer: callers pass
`access.visible_sites(user)` (the page) or every site (the email, the command).

The figures are worked out from every history row up to the month's end, so their cost grows
with the study; they are kept in the cache under a key that holds what they depend on: the
month, the sites and their targets, the trial's target, and the history's high-water mark (the
last row's id and the number of rows among the last ids: _high_water_mark; rows are only ever
added by the services). A new status
change anywhere makes a new key: a figure is never older than the history it was read from.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Subquery

from participants.models import Site, StatusChange
from reports.figures import last_day, scope_figures
from reports.timelines import HistoryRow, timelines

ALL_SITES = "ALL"


def history_rows(site_ids: list[int], *, through: dt.date) -> list[HistoryRow]:
    """The StatusChange rows of those sites dated on or before `through`, in recorded order.
    The free-text reason is never read: reports tally coded categories (participants.reasons)."""
    rows = (
        StatusChange.objects.filter(participant__site_id__in=site_ids, effective_on__lte=through)
        .order_by("changed_at", "id")
        .values_list(
            "participant_id",
            "participant__site_id",
            "participant__rescreen_of_id",
            "from_status",
            "to_status",
            "effective_on",
            "details",
        )
    )
    return [HistoryRow(*row) for row in rows]


def enrollment_figures(first: dt.date, *, sites=None) -> dict:
    """The enrollment report for the month starting `first`: each site of `sites` (default:
    every site) and their total. The total is held against the trial's target
    (settings.STUDY_ENROLLMENT_TARGET) when every site is included, else the sites' targets."""
    first = first.replace(day=1)
    last = last_day(first)
    every_site = sites is None
    site_list = list((Site.objects.all() if every_site else sites).order_by("code"))
    if not every_site:
        every_site = len(site_list) == Site.objects.count()
    key = _figures_key(first, site_list, every_site)
    figures = cache.get(key)
    if figures is None:
        figures = _figures(first, last, site_list, every_site)
        cache.set(key, figures, FIGURES_CACHE_SECONDS)
    return figures


# Long enough to serve a month's readers, short enough that nothing lingers.
FIGURES_CACHE_SECONDS = 24 * 3600


# The high-water mark counts the rows among the last RECENT_IDS ids, not the whole history
# (a count of every row grew with the study: 28 ms of a 30 ms report at 50k participants).
# The count is there for a row whose transaction took its id before the last row's but
# committed after it (the last id unchanged, one row more); such a row is never 1,000 ids
# behind, when status changes are a few a day per site.
RECENT_IDS = 1000


def _high_water_mark() -> dict:
    """{"last": the last history row's id, "rows": how many rows are among the last RECENT_IDS
    ids}: one query, read from the primary key's index whatever the size of the history."""
    last = StatusChange.objects.order_by("-id").values("id")[:1]
    recent = StatusChange.objects.filter(id__gt=Subquery(last) - RECENT_IDS)
    return recent.aggregate(last=Max("id"), rows=Count("id"))


def _figures_key(first: dt.date, site_list: list[Site], every_site: bool) -> str:
    mark = _high_water_mark()
    sites = [(s.pk, s.code, s.name, s.enrollment_target) for s in site_list]
    target = settings.STUDY_ENROLLMENT_TARGET if every_site else ""
    what = repr((sites, target, mark["last"], mark["rows"])).encode()
    return f"enrollment:{first:%Y-%m}:{hashlib.sha256(what).hexdigest()}"


def _figures(first: dt.date, last: dt.date, site_list: list[Site], every_site: bool) -> dict:
    found = timelines(history_rows([s.pk for s in site_list], through=last), through=last)
    per_site = [
        scope_figures(
            [t for t in found if t.site_id == site.pk],
            first=first,
            code=site.code,
            name=site.name,
            target=site.enrollment_target,
        )
        for site in site_list
    ]
    total_target = (
        settings.STUDY_ENROLLMENT_TARGET
        if every_site
        else sum(site.enrollment_target for site in site_list)
    )
    total = scope_figures(
        found,
        first=first,
        code=ALL_SITES,
        name="All sites" if every_site else "These sites",
        target=total_target,
    )
    return {
        "report": "SLE-001 monthly enrollment",
        "month": f"{first:%Y-%m}",
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "all_sites": every_site,
        "sites": per_site,
        "total": total,
    }
