"""Safety rules around infusions and leaving treatment: CRS/ICANS holds, same-day pre-dose
items, missed last infusion, not-done assessments, manufacturing failure, safety follow-up."""

import pytest
from django.core.exceptions import ValidationError

from participants.models import Status
from schedule import services
from schedule.models import AssessmentStatus, VisitStatus
from tests.support import APHERESIS_ON, D0, ENROLL_ON, Journey, days, record_pre_dose


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def assessment(visit, code):
    return visit.assessments.get(definition__code=code)


# --- CRS/ICANS holds the next infusion ----------------------------------------------------------


def test_abnormal_crs_after_an_infusion_holds_the_next_until_recorded_normal(journey):
    journey.to_treatment()
    inf1 = journey.visit("INF1")
    crs = assessment(inf1, "CRS_ICANS")
    with journey.on(D0, hour=20):
        services.assessment_record(
            crs,
            result="CRS grade 2",
            is_abnormal=True,
            completed_at=journey.at(D0, 19),
            by=journey.by,
            reason="Re-assessed: CRS grade 2",
        )
    with pytest.raises(ValidationError, match="On hold: CRS_ICANS after INF1 is abnormal"):
        journey.infuse(2, D0 + days(7))
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED
    with journey.on(D0 + days(3)):
        services.assessment_record(
            crs,
            result="resolved, grade 0",
            is_abnormal=False,
            completed_at=journey.at(D0 + days(3), 10),
            by=journey.by,
            reason="Re-assessed: resolved",
        )
    assert journey.infuse(2, D0 + days(7)).status == VisitStatus.DONE


def test_crs_not_assessed_after_an_infusion_holds_the_next(journey):
    journey.to_treatment()
    crs = assessment(journey.visit("INF1"), "CRS_ICANS")
    crs.status = AssessmentStatus.PENDING  # as if never recorded
    crs.save()
    with pytest.raises(ValidationError, match="CRS_ICANS after INF1 has not been recorded"):
        journey.infuse(2, D0 + days(7))


# --- Pre-dose items ------------------------------------------------------------------------------


def test_pre_dose_vital_signs_from_the_day_before_block_the_infusion(journey):
    journey.to_treatment()
    inf2_day = D0 + days(7)
    visit = journey.visit("INF2")
    evening_before = journey.at(inf2_day - days(1), 18)
    with journey.on(inf2_day - days(1), hour=19):
        record_pre_dose(visit, evening_before, journey.by)
    with journey.on(inf2_day, hour=12), pytest.raises(ValidationError) as refused:
        services.visit_record_done(
            visit,
            actual_date=inf2_day,
            started_at=journey.at(inf2_day, 9),
            dose="d",
            lot="l",
            by=journey.by,
        )
    assert "VS_PRE not done on the infusion day" in str(refused.value)
    assert "CBC" not in str(refused.value)  # 72-hour items from the day before still count


def test_an_infusion_start_time_in_the_future_is_refused(journey):
    journey.to_treatment()
    day = D0 + days(7)
    visit = journey.visit("INF2")
    with journey.on(day, hour=8):
        record_pre_dose(visit, journey.at(day, 7), journey.by)
        with pytest.raises(ValidationError, match="start time is in the future"):
            services.visit_record_done(
                visit,
                actual_date=day,
                started_at=journey.at(day, 11),
                dose="d",
                lot="l",
                by=journey.by,
            )


def test_pregnancy_test_not_applicable_does_not_block_but_a_cbc_not_done_does(journey):
    journey.to_treatment()
    day = D0 + days(7)
    visit = journey.visit("INF2")
    with journey.on(day, hour=8):
        record_pre_dose(visit, journey.at(day, 7), journey.by)
    preg, cbc = assessment(visit, "PREG"), assessment(visit, "CBC")
    for a in (preg, cbc):
        a.status = AssessmentStatus.PENDING
        a.save()
    with journey.on(day, hour=8):
        services.assessment_not_done(
            preg, reason="male participant", not_applicable=True, by=journey.by
        )
        with pytest.raises(ValidationError) as refused:
            services.assessment_not_done(cbc, reason="x", not_applicable=True, by=journey.by)
        assert "does not allow CBC to be not applicable" in str(refused.value)
        services.assessment_not_done(
            cbc, reason="sample haemolysed", not_applicable=False, by=journey.by
        )
    with journey.on(day, hour=12), pytest.raises(ValidationError) as blocked:
        services.visit_record_done(
            visit, actual_date=day, started_at=journey.at(day, 9), dose="d", lot="l", by=journey.by
        )
    assert "CBC not done (sample haemolysed)" in str(blocked.value)
    assert "PREG" not in str(blocked.value)


def test_not_done_needs_a_reason_and_a_pending_assessment(journey):
    vs = assessment(journey.visit("SCR"), "VS")
    with journey.on(ENROLL_ON):
        with pytest.raises(ValidationError, match="Give the reason"):
            services.assessment_not_done(vs, reason=" ", not_applicable=False, by=journey.by)
        services.assessment_not_done(
            vs, reason="machine broken", not_applicable=False, by=journey.by
        )
        with pytest.raises(ValidationError, match="only a pending assessment"):
            services.assessment_not_done(vs, reason="again", not_applicable=False, by=journey.by)
    vs.refresh_from_db()
    assert (vs.status, vs.reason) == (AssessmentStatus.MISSED, "machine broken")


# --- The end of treatment ----------------------------------------------------------------------


def test_a_missed_last_infusion_ends_treatment_with_the_reason(journey):
    journey.to_treatment()
    for n in range(2, 6):
        journey.infuse(n, D0 + days(7 * (n - 1)))
    with journey.on(D0 + days(36)):
        services.visit_mark_missed(journey.visit("INF6"), reason="febrile", by=journey.by)
    p = journey.refresh()
    assert p.status == Status.IN_FOLLOW_UP
    change = p.status_changes.last()
    assert change.details["stopped_early"] is True
    assert change.reason == "5 of 6 infusions given; missed: INF6"


def test_an_infusion_cannot_be_missed_while_an_earlier_one_is_open(journey):
    journey.to_treatment()
    with journey.on(D0 + days(36)), pytest.raises(ValidationError, match="Record INF2"):
        services.visit_mark_missed(journey.visit("INF6"), reason="x", by=journey.by)


def test_month_12_cannot_complete_someone_still_in_treatment(journey):
    journey.to_treatment()
    m12 = journey.visit("M12")
    for v in journey.p.visits.filter(status=VisitStatus.SCHEDULED).exclude(pk=m12.pk):
        v.status = VisitStatus.MISSED  # clear the way to M12, as if each was confirmed missed
        v.save()
    with journey.on(m12.target_date), pytest.raises(ValidationError, match="end treatment first"):
        services.visit_record_done(m12, actual_date=m12.target_date, by=journey.by)
    assert journey.visit("M12").status == VisitStatus.SCHEDULED


def test_stopping_treatment_early_marks_an_infusion_past_its_window_missed(journey):
    journey.to_treatment()
    journey.infuse(2, D0 + days(7))
    stopped = D0 + days(20)  # INF3's window closed on D0+16 unrecorded
    with journey.on(stopped):
        services.treatment_stop_early(
            journey.p, on=stopped, reason="CRS", reason_code="crs_icans", by=journey.by
        )
    assert journey.visit("INF3").status == VisitStatus.MISSED
    assert journey.visit("INF4").status == VisitStatus.NOT_APPLICABLE


def test_treatment_cannot_stop_before_the_last_infusion_given(journey):
    journey.to_treatment()
    journey.infuse(2, D0 + days(7))
    with journey.on(D0 + days(8)), pytest.raises(ValidationError, match="INF2 was given on"):
        services.treatment_stop_early(
            journey.p, on=D0 + days(5), reason="x", reason_code="adverse_event", by=journey.by
        )


# --- Manufacturing failure ---------------------------------------------------------------------


def test_manufacturing_failure_voids_the_planned_d0_visits(journey):
    journey.enroll()
    journey.plan(D0)
    journey.apheresis(APHERESIS_ON)
    with journey.on(APHERESIS_ON + days(5)):
        services.participant_manufacturing_fail(
            journey.p, on=APHERESIS_ON + days(5), reason="no expansion", by=journey.by
        )
    p = journey.refresh()
    assert p.schedule.infusion_anchor is None
    d0_visits = p.visits.filter(definition__anchor="first_infusion")
    assert set(d0_visits.values_list("status", flat=True)) == {VisitStatus.NOT_APPLICABLE}
    pending_safety = p.visits.filter(
        definition__anchor="first_infusion", assessments__status=AssessmentStatus.PENDING
    )
    assert not pending_safety.exists()  # nothing left to raise an overdue alert


# --- Safety follow-up after withdrawal ---------------------------------------------------------


def test_withdrawal_with_safety_follow_up_keeps_the_safety_items_of_later_visits(journey):
    journey.to_treatment()
    for n in range(2, 7):
        journey.infuse(n, D0 + days(7 * (n - 1)))
    withdrawn_on = D0 + days(45)
    with journey.on(withdrawn_on):
        services.participant_withdraw(
            journey.p,
            on=withdrawn_on,
            reason="moving",
            reason_code="other",
            safety_follow_up_continues=True,
            by=journey.by,
        )
    m3 = journey.visit("M3")
    assert m3.status == VisitStatus.SCHEDULED
    pending = set(
        m3.assessments.filter(status=AssessmentStatus.PENDING).values_list("is_safety", flat=True)
    )
    assert pending == {True}
    assert m3.assessments.get(definition__code="SLEDAI").status == AssessmentStatus.NOT_APPLICABLE
    m12 = journey.visit("M12")
    for v in journey.p.visits.filter(status=VisitStatus.SCHEDULED).exclude(pk=m12.pk):
        v.status = VisitStatus.MISSED
        v.save()
    with journey.on(m12.target_date):
        services.visit_record_done(m12, actual_date=m12.target_date, by=journey.by)
    assert journey.status() == Status.WITHDRAWN  # the last safety visit does not "complete" them
