"""The entry point: demo_seed, run by manage.py seed_demo."""

from django.db import transaction

from demo.refresh import demo_is_stale, demo_participants_remove
from demo.replay import demo_participants
from demo.sites import DEMO_PASSWORD, demo_sites, demo_staff
from demo.summary import DemoSummary, demo_summary
from participants.models import Participant


@transaction.atomic
def demo_seed(*, password: str = DEMO_PASSWORD, refresh: bool = False) -> DemoSummary:
    """Create (or refresh) the demo sites, logins and participants.

    Idempotent on the same day: sites, groups and logins are brought to the demo's state
    (passwords re-set); participants are created only when the demo sites have none. When they
    were made on an earlier day (stale: the worklist would drift empty), or with `refresh`, the
    demo participants are removed and built again around today.
    """
    sites = demo_sites()
    staff = demo_staff(sites, password)
    removed = created = 0
    existing = Participant.objects.filter(site__in=sites.values())
    if existing.exists() and (refresh or demo_is_stale(sites)):
        removed = demo_participants_remove(sites)
    if not existing.exists():
        created = demo_participants(sites, staff, password)
    summary = demo_summary(sites, staff, created)
    summary.participants_removed = removed
    return summary
