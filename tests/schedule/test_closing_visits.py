"""Leaving the study closes open visits: those already past their window are missed (a visible
deviation), later ones are not applicable. Infusions cannot be missed before treatment starts."""

import pytest
from django.core.exceptions import ValidationError

from participants.models import Status
from schedule import services
from schedule.models import AssessmentStatus, VisitStatus
from tests.support import D0, ENROLL_ON, Journey, days


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def test_withdrawal_marks_visits_whose_window_had_closed_as_missed(journey):
    journey.to_treatment()
    for n in range(2, 7):
        journey.infuse(n, D0 + days(7 * (n - 1)))
    withdrawn_on = D0 + days(70)  # EOT (window to D0+53) and M2 (to D0+65) never recorded
    with journey.on(withdrawn_on):
        services.participant_withdraw(
            journey.p,
            on=withdrawn_on,
            reason="Moved away",
            reason_code="other",
            safety_follow_up_continues=False,
            by=journey.by,
        )
    eot, m2, m3 = journey.visit("EOT"), journey.visit("M2"), journey.visit("M3")
    assert (eot.status, m2.status, m3.status) == (
        VisitStatus.MISSED,
        VisitStatus.MISSED,
        VisitStatus.NOT_APPLICABLE,
    )
    assert eot.reason.startswith("Window closed before")
    assert set(eot.assessments.values_list("status", flat=True)) == {AssessmentStatus.MISSED}
    assert set(m3.assessments.values_list("status", flat=True)) == {AssessmentStatus.NOT_APPLICABLE}


def test_withdrawal_of_someone_lost_during_treatment_includes_crs_review(journey):
    journey.to_treatment()
    lost_on = D0 + days(20)
    with journey.on(lost_on):
        services.participant_lose_to_follow_up(
            journey.p,
            last_contact_on=D0 + days(8),
            contact_attempts=[D0 + days(10), D0 + days(14), D0 + days(18)],
            by=journey.by,
        )
        services.participant_withdraw(
            journey.p,
            on=lost_on,
            reason="No contact",
            reason_code="other",
            safety_follow_up_continues=False,
            by=journey.by,
        )
    et = journey.visit("ET")
    assert "CRS_ICANS" in et.assessments.values_list("definition__code", flat=True)


def test_an_infusion_cannot_be_missed_before_the_first_infusion(journey):
    journey.enroll()
    journey.plan(D0)
    with journey.on(D0 + days(6)), pytest.raises(ValidationError, match="only during treatment"):
        services.visit_mark_missed(journey.visit("INF2"), reason="x", by=journey.by)
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED


def test_screen_failure_after_the_screening_window_marks_screening_missed(journey):
    failed_on = ENROLL_ON + days(14)  # SCR window closed on consent + 14
    with journey.on(failed_on):
        services.participant_screen_fail(
            journey.p,
            on=failed_on,
            failed_criteria=["IN_ACTIVE"],
            rescreen_allowed=True,
            by=journey.by,
        )
    assert journey.status() == Status.SCREEN_FAILED
    assert journey.visit("SCR").status == VisitStatus.MISSED
    assert journey.visit("APH").status == VisitStatus.NOT_APPLICABLE
