"""The clinical notions of the schedule, one place each: the QuerySet predicates every caller
uses (worklist, participants table, admin filters, scans, emails, demo). The row versions are
methods on the models (Visit.window_closed, Assessment.is_overdue); keep the two in step."""

import datetime as dt

from django.db import models
from django.db.models import Q

from schedule.choices import AssessmentStatus, VisitStatus

# --- The clinical notions, one place each ----------------------------------------------------------
# "Today" differs between sites (each site's own calendar date), so the date predicates take either
# one date for every row or a {site id: that site's today} mapping.


def _on_site_today(today, make, site_path: str) -> Q:
    """`make(today)` for one date, or an OR of one `make(site's today)` per site."""
    if not isinstance(today, dict):
        return make(today)
    # The sites grouped by their date: one (sites, date) pair per distinct date, which an index
    # on (site, date) reads as one range per site; an OR of one pair per site left PostgreSQL a
    # bitmap of ten scans, or a filter over the whole index, for a study manager's ten sites.
    sites_on: dict[dt.date, list[int]] = {}
    for site_id, site_today in today.items():
        sites_on.setdefault(site_today, []).append(site_id)
    q = Q(pk__in=[])
    for site_today, site_ids in sorted(sites_on.items()):
        q |= Q(**{f"{site_path}_id__in": sorted(site_ids)}) & make(site_today)
    # The same dates without the sites (one to three distinct dates): implied by the above, and
    # on the row itself, so an index on the date can serve the read when the sites' dates differ
    # (an OR over the sites' columns alone leaves the planner nothing to look up).
    envelope = Q(pk__in=[])
    for site_today in sorted(set(today.values())):
        envelope |= make(site_today)
    return q & envelope if today else q


def _window_closed(today) -> Q:
    return Q(window_end__lt=today)


def _window_opened(today) -> Q:
    return Q(window_start__lte=today)


def _due_on(today) -> Q:
    return Q(target_date=today)


def _closing_within(days: int):
    return lambda today: Q(window_end__gte=today, window_end__lte=today + dt.timedelta(days=days))


def _coming_within(days: int):
    return lambda today: Q(target_date__gt=today, target_date__lte=today + dt.timedelta(days=days))


# A window closing within this many days is "closing soon" (worklist, demo summary, emails).
CLOSING_SOON_DAYS = 3


class VisitQuerySet(models.QuerySet):
    def open(self):
        """Not yet recorded (done, missed or not applicable)."""
        return self.filter(status=VisitStatus.SCHEDULED)

    def due_on(self, today):
        """Open visits whose target date is `today`."""
        return self.open().filter(_on_site_today(today, _due_on, "site"))

    def window_closed(self, today):
        """Open visits whose window closed before `today`: unrecorded, a deviation to resolve."""
        return self.open().filter(_on_site_today(today, _window_closed, "site"))

    def closing_within(self, today, days: int):
        """Open visits whose window closes from `today` to `days` later (inclusive)."""
        return self.open().filter(_on_site_today(today, _closing_within(days), "site"))

    def window_open(self, today):
        """Open visits whose window has opened by `today` (closed ones included: combine with
        window_closed to tell them apart)."""
        return self.open().filter(_on_site_today(today, _window_opened, "site"))

    def coming_within(self, today, days: int):
        """Open visits with a target date after `today`, at most `days` later."""
        return self.open().filter(_on_site_today(today, _coming_within(days), "site"))


class AssessmentQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=AssessmentStatus.PENDING)

    def overdue(self, now: dt.datetime):
        """Safety assessments overdue at `now` (PROTOCOL.md "Overdue rule"): still without a
        result at or after their due instant. Only safety items are ever overdue. Served by the
        partial index assess_overdue_scan_idx when combined with overdue_flagged_at__isnull."""
        return self.filter(status=AssessmentStatus.PENDING, is_safety=True, due_at__lte=now)
