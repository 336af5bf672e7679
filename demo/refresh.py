"""Keeping the demo live: the demo participants are dated around the day they were made, so on a
later day the worklist drifts (nothing due today, everything overdue). `demo_is_stale` says when
that happened; `demo_participants_remove` clears them so seed_demo can build them again around
today. Only the demo's own sites (code and name as demo.sites.SITES) are ever touched.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import Min

from demo.sites import SITES
from participants.models import Participant, Site, StatusChange
from participants.services.dates import site_today
from safety.models import AdverseEvent


def demo_built_at(sites: dict[str, Site]) -> dt.datetime | None:
    """When the demo participants were made: their first recorded status change (the replay
    records every story at seeding time; later changes by people trying the demo come after)."""
    return StatusChange.objects.filter(participant__site__in=sites.values()).aggregate(
        first=Min("changed_at")
    )["first"]


def demo_is_stale(sites: dict[str, Site]) -> bool:
    """Made on an earlier day than today at any demo site (each site's own calendar)."""
    built = demo_built_at(sites)
    if built is None:
        return False
    return any(built.astimezone(s.tz).date() < site_today(s) for s in sites.values())


def demo_participants_remove(sites: dict[str, Site]) -> int:
    """Delete every participant of the demo sites with what hangs on them (visits, assessments,
    events, deviations); their audit history stays. Refused when a site is not the demo's own (a
    real site that happens to have code S01). In the caller's transaction."""
    names = {code: name for code, name, _tz, _target in SITES}
    foreign = [s.code for s in sites.values() if s.name != names.get(s.code)]
    if foreign:
        raise ValidationError(
            f"Site(s) {', '.join(foreign)} are not the demo's sites (their names differ): the "
            "demo is not rebuilt there."
        )
    participants = Participant.objects.filter(site__in=sites.values())
    # Adverse events protect their participant, and a re-screen protects the screening it
    # repeats: remove those links first.
    AdverseEvent.objects.filter(participant__in=participants).delete()
    participants.exclude(rescreen_of=None).update(rescreen_of=None)
    count = participants.count()
    participants.delete()
    return count
