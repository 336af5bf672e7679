"""Every visit and assessment carries its participant's site (copied when the visit is laid
out), the site the worklist and the calendar scope them by: it must never differ from the
participant's."""

import datetime as dt

from django.db.models import F

from schedule import services
from schedule.models import Assessment, Visit
from tests.support import D0, Journey, coordinator_at, days


def test_every_visit_and_assessment_laid_out_carries_its_participants_site(
    protocol, site, site2, coordinator, investigator
):
    journey = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    journey.to_treatment()
    berlin = Journey(site2, coordinator_at(site2), investigator, consent_on=dt.date(2026, 1, 5))
    with journey.on(D0 + days(3)):
        services.unscheduled_visit_add(journey.p, on=D0 + days(3), reason="fever", by=coordinator)
        services.participant_withdraw(
            journey.p,
            on=D0 + days(3),
            reason="moved",
            reason_code="other",
            safety_follow_up_continues=True,
            by=coordinator,
        )
    laid_out = Assessment.objects.all()
    assert laid_out.filter(site=site).exists() and laid_out.filter(site=site2).exists()
    assert laid_out.filter(visit__definition__code__in=["UNS", "ET"], site=site).count() > 0
    assert not laid_out.exclude(site_id=F("visit__participant__site_id")).exists()
    assert berlin.p.site == site2
    visits = Visit.objects.all()
    assert visits.filter(site=site).exists() and visits.filter(site=site2).exists()
    assert visits.filter(definition__code__in=["UNS", "ET"], site=site).count() == 2
    assert not visits.exclude(site_id=F("participant__site_id")).exists()
