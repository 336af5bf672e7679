"""Every change to a visit or assessment leaves a history row, including bulk moves."""

import pytest

from schedule import services
from schedule.models import Visit, VisitStatus
from tests.support import D0, ENROLL_ON, Journey, days


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.enroll()
    j.plan(D0)
    return j


def test_laid_out_visits_have_a_creation_history_row(journey):
    inf3 = journey.visit("INF3")
    assert [h.history_type for h in inf3.history.all()] == ["+"]


def test_re_anchoring_records_each_moved_visit_in_its_history(journey):
    journey.plan(D0 + days(3), today=ENROLL_ON, reason="Product release delayed")
    inf3 = journey.visit("INF3")
    latest = inf3.history.first()
    assert latest.history_change_reason == "re-anchored: Product release delayed"
    assert latest.target_date == D0 + days(17)
    assert inf3.history.last().target_date == D0 + days(14)


def test_withdrawal_closes_visits_with_history(journey):
    with journey.on(ENROLL_ON + days(2)):
        services.participant_withdraw(
            journey.p,
            on=ENROLL_ON + days(2),
            reason="Consent withdrawn",
            reason_code="consent_withdrawn",
            safety_follow_up_continues=False,
            by=journey.by,
        )
    m3 = journey.visit("M3")
    assert m3.status == VisitStatus.NOT_APPLICABLE
    assert m3.history.first().status == VisitStatus.NOT_APPLICABLE
    assert m3.history.first().history_change_reason == "Participant withdrew."
    assert Visit.objects.filter(participant=journey.p, definition__code="ET").exists()
