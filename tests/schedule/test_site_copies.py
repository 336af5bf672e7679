"""Every visit and assessment carries its participant's site (copied when the visit is laid
out), and every deviation too (copied from its visit when drafted): the site the worklist, the
calendar and the deviations page scope them by. It must never differ from the participant's."""

import datetime as dt

from django.db.models import F

from schedule import services
from schedule.deviation_models import Deviation
from schedule.models import Assessment, Visit
from schedule.services import deviations
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


def test_every_deviation_drafted_carries_its_participants_site(
    protocol, site, site2, coordinator, investigator
):
    paris = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    berlin = Journey(site2, coordinator_at(site2), investigator, consent_on=dt.date(2026, 1, 5))
    for journey in (paris, berlin):
        scr = Visit.objects.get(participant=journey.p, definition__code="SCR")
        with journey.on(D0):
            deviations.deviation_draft_for_missed_visit(scr)
            overdue = list(Assessment.objects.filter(visit=scr, is_safety=True)[:2])
            deviations.deviation_drafts_for_overdue(overdue, journey.at(D0, 18))
    drafted = Deviation.objects.all()
    assert drafted.filter(site=site).count() == drafted.filter(site=site2).count() >= 2
    assert not drafted.exclude(site_id=F("participant__site_id")).exists()
    # Its history rows too (the audit trail is read by site).
    assert not Deviation.history.exclude(site_id=F("participant__site_id")).exists()
