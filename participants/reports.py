"""The monthly enrollment report for the study manager: counts only, by site, no identifiers."""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q

from participants.models import Participant, Site, Status, StatusChange

# Statuses reached only after enrollment: a participant in one of these was enrolled.
ENROLLED_OR_LATER = (
    Status.ENROLLED,
    Status.APHERESIS_DONE,
    Status.MANUFACTURING_FAILED,
    Status.IN_TREATMENT,
    Status.IN_FOLLOW_UP,
    Status.COMPLETED,
)


@dataclass
class SiteRow:
    code: str
    name: str
    target: int
    consented_in_month: int = 0
    enrolled_in_month: int = 0
    screen_failed_in_month: int = 0
    enrolled_total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def percent_of_target(self) -> int:
        return round(100 * self.enrolled_total / self.target) if self.target else 0


@dataclass
class EnrollmentReport:
    month: dt.date  # first day of the month reported
    sites: list[SiteRow]

    @property
    def totals(self) -> SiteRow:
        total = SiteRow("ALL", "All sites", sum(s.target for s in self.sites))
        for row in self.sites:
            total.consented_in_month += row.consented_in_month
            total.enrolled_in_month += row.enrolled_in_month
            total.screen_failed_in_month += row.screen_failed_in_month
            total.enrolled_total += row.enrolled_total
            for status, n in row.by_status.items():
                total.by_status[status] = total.by_status.get(status, 0) + n
        return total


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following


def enrollment_report(month: dt.date) -> EnrollmentReport:
    """Counts for the calendar month containing `month` (clinical dates, each site's own).

    A fixed number of queries whatever the number of participants.
    """
    first, following = month_bounds(month)
    rows = {
        s.pk: SiteRow(s.code, s.name, s.enrollment_target) for s in Site.objects.order_by("code")
    }
    in_month = Q(
        status_changes__effective_on__gte=first, status_changes__effective_on__lt=following
    )
    per_site = (
        Participant.objects.values("site")
        .annotate(
            consented=Count(
                "status_changes",
                # from "" = the consent itself, not a reinstatement back into screening
                filter=in_month
                & Q(status_changes__to_status=Status.SCREENING, status_changes__from_status=""),
            ),
            enrolled=Count(
                "status_changes", filter=in_month & Q(status_changes__to_status=Status.ENROLLED)
            ),
            failed=Count(
                "status_changes",
                filter=in_month & Q(status_changes__to_status=Status.SCREEN_FAILED),
            ),
        )
        .order_by()
    )
    for r in per_site:
        row = rows[r["site"]]
        row.consented_in_month, row.enrolled_in_month = r["consented"], r["enrolled"]
        row.screen_failed_in_month = r["failed"]
    # Ever enrolled: an ENROLLED status change exists (withdrawn/died after enrollment count too).
    ever_enrolled = (
        StatusChange.objects.filter(to_status=Status.ENROLLED, effective_on__lt=following)
        .values("participant__site")
        .annotate(n=Count("participant", distinct=True))
        .order_by()
    )
    for r in ever_enrolled:
        rows[r["participant__site"]].enrolled_total = r["n"]
    for r in Participant.objects.values("site", "status").annotate(n=Count("id")).order_by():
        rows[r["site"]].by_status[r["status"]] = r["n"]
    return EnrollmentReport(month=first, sites=list(rows.values()))
