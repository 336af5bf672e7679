"""What the seeding made: participants by status, the worklist's counts, the logins."""

from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from participants.models import Participant, Site, Status
from participants.services.dates import site_today
from schedule.models import CLOSING_SOON_DAYS, Assessment, Visit


@dataclass
class DemoSummary:
    participants_created: int
    status_counts: dict[str, int]
    logins: list[tuple[str, str, str]]  # username, role, sites
    due_today: int = 0
    closing_soon: int = 0
    overdue_safety: int = 0
    notes: list[str] = field(default_factory=list)
    participants_removed: int = 0  # a stale demo rebuilt around today


def demo_summary(sites: dict[str, Site], staff: dict, created: int) -> DemoSummary:
    site_ids = [s.pk for s in sites.values()]
    counts = Counter(
        Participant.objects.filter(site_id__in=site_ids).values_list("status", flat=True)
    )
    # The worklist's own predicates, with each site's today, so the summary matches the page.
    today = {s.pk: site_today(s) for s in sites.values()}
    visits = Visit.objects.filter(participant__site_id__in=site_ids)
    due_today = visits.due_on(today).count()
    closing_soon = visits.closing_within(today, CLOSING_SOON_DAYS).count()
    overdue = (
        Assessment.objects.overdue(timezone.now())
        .filter(visit__participant__site_id__in=site_ids)
        .count()
    )
    logins = []
    for username, user in staff.items():
        profile = user.staff_profile
        where = ", ".join(s.code for s in profile.sites.all()) or "all sites"
        role = "superuser" if user.is_superuser else profile.get_role_display()
        logins.append((username, role, where))
    return DemoSummary(
        participants_created=created,
        status_counts={s.label: counts.get(s.value, 0) for s in Status},
        logins=logins,
        due_today=due_today,
        closing_soon=closing_soon,
        overdue_safety=overdue,
    )
