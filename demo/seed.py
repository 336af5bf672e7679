"""The entry point: demo_seed, run by manage.py seed_demo."""

from django.db import transaction

from demo.replay import demo_participants
from demo.sites import DEMO_PASSWORD, demo_sites, demo_staff
from demo.summary import DemoSummary, demo_summary
from participants.models import Participant


@transaction.atomic
def demo_seed(*, password: str = DEMO_PASSWORD) -> DemoSummary:
    """Create (or refresh) the demo sites, logins and participants.

    Idempotent: sites, groups and logins are brought to the demo's state (passwords re-set);
    participants are created only when the demo sites have none, so a second run adds nothing.
    """
    sites = demo_sites()
    staff = demo_staff(sites, password)
    created = 0
    if not Participant.objects.filter(site__in=sites.values()).exists():
        created = demo_participants(sites, staff, password)
    return demo_summary(sites, staff, created)
