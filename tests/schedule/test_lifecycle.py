"""A participant's life through the services, from consent to Month 12, and the ways it can go."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from participants.models import Apheresis, Eligibility, Participant, Status, StatusChange
from schedule import services
from schedule.models import (
    Assessment,
    AssessmentStatus,
    Reanchor,
    Visit,
    VisitStatus,
)
from schedule.windows import window_closes_at
from tests.support import (
    APHERESIS_ON,
    CONSENT_ON,
    D0,
    ENROLL_ON,
    PASSWORD,
    Journey,
    all_met,
    days,
    local,
    make_user,
    open_visit_codes,
    record_pre_dose,
    record_result,
)

D0_TARGETS = {
    "INF1": dt.date(2026, 2, 20),
    "INF2": dt.date(2026, 2, 27),
    "INF3": dt.date(2026, 3, 6),
    "INF4": dt.date(2026, 3, 13),
    "INF5": dt.date(2026, 3, 20),
    "INF6": dt.date(2026, 3, 27),
    "EOT": dt.date(2026, 4, 11),
    "M2": dt.date(2026, 4, 21),
    "M3": dt.date(2026, 5, 21),
    "M6": dt.date(2026, 8, 19),
    "M9": dt.date(2026, 11, 17),
    "M12": dt.date(2027, 2, 20),
}
FOLLOW_UP = ["EOT", "M2", "M3", "M6", "M9", "M12"]


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def statuses(participant, code_prefix=""):
    return {
        v.definition.code: v.status
        for v in participant.visits.select_related("definition")
        if v.definition.code.startswith(code_prefix)
    }


# --- The whole life ----------------------------------------------------------------------------


def test_participant_goes_from_consent_to_month_12_completion(journey, coordinator, investigator):
    p = journey.p
    assert p.status == Status.SCREENING
    assert open_visit_codes(p) == ["SCR", "APH"]
    assert (journey.visit("SCR").target_date, journey.visit("APH").target_date) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 2, 2),
    )

    journey.screening_visit(ENROLL_ON)
    journey.enroll(ENROLL_ON)
    assert p.study_id == "S01-001"
    assert journey.plan(D0) == []
    journey.apheresis(APHERESIS_ON)
    assert journey.status() == Status.APHERESIS_DONE
    journey.infuse(1, D0)
    assert journey.status() == Status.IN_TREATMENT
    assert p.first_infusion_date == D0
    for n in range(2, 7):
        journey.infuse(n, D0 + days(7 * (n - 1)))
    assert journey.status() == Status.IN_FOLLOW_UP
    assert p.infusions_received == 6
    for code in FOLLOW_UP:
        journey.record(code, journey.visit(code).target_date)

    p = journey.refresh()
    assert p.status == Status.COMPLETED
    assert p.off_study_on == dt.date(2027, 2, 20)
    visits = list(p.visits.select_related("definition").order_by("target_date"))
    assert [v.definition.code for v in visits] == ["SCR", "APH", *D0_TARGETS]
    for v in visits:
        assert v.status == VisitStatus.DONE, v
        assert v.in_window is True, v
    for code, target in D0_TARGETS.items():
        v = journey.visit(code)
        assert v.target_date == target == D0 + days(v.definition.target_offset)
        assert v.actual_date == target
    assert list(p.status_changes.values_list("to_status", flat=True)) == [
        Status.SCREENING,
        Status.ENROLLED,
        Status.APHERESIS_DONE,
        Status.IN_TREATMENT,
        Status.IN_FOLLOW_UP,
        Status.COMPLETED,
    ]
    # Every change by the coordinator, but the eligibility sign-off: the investigator's own.
    assert {c.to_status: c.changed_by for c in p.status_changes.all()} == {
        status: investigator if status == Status.ENROLLED else coordinator
        for status in p.status_changes.values_list("to_status", flat=True)
    }


# --- Screening ---------------------------------------------------------------------------------


def test_screen_failure_makes_the_screening_visits_not_applicable(journey, coordinator):
    with journey.on(ENROLL_ON):
        services.participant_screen_fail(
            journey.p,
            on=ENROLL_ON,
            failed_criteria=["EX_NEURO"],
            rescreen_allowed=False,
            by=coordinator,
        )
    p = journey.refresh()
    assert (p.status, p.off_study_on, p.rescreen_allowed) == (
        Status.SCREEN_FAILED,
        ENROLL_ON,
        False,
    )
    assert statuses(p) == {"SCR": VisitStatus.NOT_APPLICABLE, "APH": VisitStatus.NOT_APPLICABLE}
    assert not Assessment.objects.filter(
        visit__participant=p, status=AssessmentStatus.PENDING
    ).exists()
    assert p.status_changes.last().details["failed_criteria"] == ["EX_NEURO"]


def _screen_fail(journey, coordinator, *, rescreen_allowed=True):
    with journey.on(ENROLL_ON):
        services.participant_screen_fail(
            journey.p,
            on=ENROLL_ON,
            failed_criteria=["IN_ACTIVE"],
            rescreen_allowed=rescreen_allowed,
            by=coordinator,
        )
    return journey.refresh()


def rescreen(old, coordinator, day=dt.date(2026, 3, 2), **kw):
    tz = (kw.get("site") or old.site).time_zone
    with time_machine.travel(local(day, 15, tz), tick=False):
        consent = {
            "consent_at": local(day, 11, tz),
            "consent_form_version": "ICF v2.1",
            "age_at_consent": 43,
        }
        if "site" in kw:
            return services.participant_consent(
                site=kw["site"], by=coordinator, rescreen_of=old, **consent
            )
        return services.participant_rescreen(
            Participant.objects.get(pk=old.pk), by=coordinator, **consent
        )


def test_rescreen_is_a_new_screening_linked_to_the_failed_one(journey, coordinator):
    old = _screen_fail(journey, coordinator)
    new = rescreen(old, coordinator)
    assert new.pk != old.pk
    assert new.rescreen_of == old
    assert new.status == Status.SCREENING
    assert new.screening_number != old.screening_number
    assert new.visits.get(definition__code="SCR").target_date == dt.date(2026, 3, 2)
    assert new.status_changes.get().details["rescreen_of"] == old.screening_number
    old.refresh_from_db()
    assert old.status == Status.SCREEN_FAILED  # the old screening stays as it was


def test_rescreen_is_refused_when_the_failure_said_no_rescreen(journey, coordinator):
    old = _screen_fail(journey, coordinator, rescreen_allowed=False)
    with pytest.raises(ValidationError, match="not re-screenable"):
        rescreen(old, coordinator)
    assert Participant.objects.count() == 1


def test_rescreen_is_refused_the_second_time(journey, coordinator):
    old = _screen_fail(journey, coordinator)
    first = rescreen(old, coordinator)
    with pytest.raises(ValidationError, match=f"already re-screened as {first.label}"):
        rescreen(old, coordinator, day=dt.date(2026, 3, 3))
    assert Participant.objects.count() == 2


def test_rescreen_is_refused_at_a_different_site(journey, coordinator, site2):
    old = _screen_fail(journey, coordinator)
    coordinator.staff_profile.sites.add(site2)  # covers both sites, so only the rule refuses
    with pytest.raises(ValidationError, match="same site"):
        rescreen(old, coordinator, site=site2)
    assert Participant.objects.count() == 1


def test_rescreen_is_refused_for_a_screening_that_did_not_fail(journey, coordinator):
    with pytest.raises(ValidationError, match="not a failed screening"):
        rescreen(journey.p, coordinator)


# --- Enrollment --------------------------------------------------------------------------------


def test_enrollment_is_refused_naming_the_failing_criteria(journey):
    answers = {**all_met(), "IN_ACTIVE": False, "EX_PREG": True}
    with pytest.raises(ValidationError) as refused:
        journey.enroll(answers=answers)
    message = refused.value.messages[0]
    assert "IN_ACTIVE not met" in message
    assert "EX_PREG applies" in message
    assert "IN_SLE" not in message
    p = journey.refresh()
    assert (p.status, p.study_id) == (Status.SCREENING, None)
    assert not Eligibility.objects.exists()


@pytest.mark.parametrize("unanswered", [{"EX_NEURO": None}, {}])
def test_enrollment_is_refused_when_a_criterion_is_unanswered(journey, unanswered):
    answers = {k: v for k, v in all_met().items() if k != "EX_NEURO"} | unanswered
    with pytest.raises(ValidationError, match=r"Not answered: EX_NEURO \("):
        journey.enroll(answers=answers)
    assert journey.status() == Status.SCREENING


def test_eligibility_must_be_signed_off_by_an_investigator(journey, coordinator, investigator):
    with pytest.raises(ValidationError) as refused:
        journey.enroll(signed_off_by=coordinator)
    assert refused.value.message_dict == {
        "signed_off_by": ["Eligibility must be signed off by an investigator."]
    }
    assert journey.status() == Status.SCREENING
    journey.enroll(signed_off_by=investigator)
    eligibility = Eligibility.objects.get(participant=journey.p)
    assert (eligibility.signed_by, eligibility.criteria_version) == (investigator, "1")
    assert journey.p.status == Status.ENROLLED


def test_eligibility_cannot_be_signed_off_on_the_investigators_behalf(
    journey, coordinator, investigator
):
    with journey.on(dt.date(2026, 1, 12)), pytest.raises(ValidationError) as refused:
        services.participant_enroll(
            journey.p,
            answers=all_met(),
            assessed_on=dt.date(2026, 1, 12),
            signed_off_by=investigator,
            by=coordinator,
            password=PASSWORD,
        )
    assert "signed off by the investigator in person" in str(refused.value)
    assert journey.status() == Status.SCREENING


def test_eligibility_sign_off_by_an_investigator_of_another_site_is_refused(journey, site2):
    elsewhere = make_user("invest2", "investigator", [site2])
    with pytest.raises(PermissionDenied, match="see site S01 but not record there"):
        journey.enroll(signed_off_by=elsewhere)
    assert journey.status() == Status.SCREENING


def test_a_service_refuses_a_recorder_of_another_site_whoever_calls_it(journey, site2):
    """Defence in depth: the services check `by` themselves, not only the views."""
    elsewhere = make_user("coord2", "coordinator", [site2])
    manager = make_user("manager2", "study_manager")
    for who in (elsewhere, manager):
        with pytest.raises(PermissionDenied), journey.on(dt.date(2026, 1, 6)):
            services.visit_record_done(
                journey.visit("SCR"), actual_date=dt.date(2026, 1, 6), by=who
            )
    assert journey.visit("SCR").status == VisitStatus.SCHEDULED


# --- Leukapheresis and manufacturing -----------------------------------------------------------


def test_leukapheresis_before_enrollment_is_refused(journey):
    with pytest.raises(ValidationError, match="is screening"):
        journey.apheresis(dt.date(2026, 1, 10))
    journey.enroll(ENROLL_ON)
    with journey.on(ENROLL_ON + days(1)), pytest.raises(ValidationError) as refused:
        services.visit_record_done(
            journey.visit("APH"),
            actual_date=ENROLL_ON - days(1),
            adequate_collection=True,
            product_id="P-early",
            by=journey.by,
        )
    assert (
        "only done after eligibility is confirmed" in refused.value.message_dict["collected_on"][0]
    )
    assert not Apheresis.objects.exists()
    assert journey.visit("APH").status == VisitStatus.SCHEDULED


def test_manufacturing_failure_lays_out_a_repeat_leukapheresis_then_treatment(journey, coordinator):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis(APHERESIS_ON)
    failed_on = dt.date(2026, 2, 9)
    with journey.on(failed_on):
        services.participant_manufacturing_fail(
            journey.p, on=failed_on, reason="cells did not expand", by=coordinator
        )
    assert journey.status() == Status.MANUFACTURING_FAILED
    repeat = journey.visit("APH", occurrence=2)
    assert (repeat.status, repeat.window_start) == (VisitStatus.SCHEDULED, failed_on)
    assert repeat.window_start <= repeat.target_date <= repeat.window_end

    journey.apheresis(dt.date(2026, 2, 12), occurrence=2)
    assert journey.status() == Status.APHERESIS_DONE
    assert journey.visit("APH", occurrence=2).status == VisitStatus.DONE
    first, second = Apheresis.objects.filter(participant=journey.p)
    assert (first.manufacturing_failed_on, second.manufacturing_failed_on) == (failed_on, None)

    # Manufacturing failure voided the D0 plan; the new plan lays the D0 visits out again.
    assert journey.visit("INF1", occurrence=1).status == VisitStatus.NOT_APPLICABLE
    journey.plan(D0, today=dt.date(2026, 2, 12))
    assert journey.visit("INF1").occurrence == 2
    journey.infuse(1, D0)
    assert journey.status() == Status.IN_TREATMENT
    assert [c.to_status for c in journey.p.status_changes.all()][-4:] == [
        Status.APHERESIS_DONE,
        Status.MANUFACTURING_FAILED,
        Status.APHERESIS_DONE,
        Status.IN_TREATMENT,
    ]


# --- Treatment ---------------------------------------------------------------------------------


def test_treatment_stopped_after_three_infusions_continues_in_follow_up(journey, coordinator):
    journey.to_treatment()
    journey.infuse(2, D0 + days(7))
    journey.infuse(3, D0 + days(14))
    with journey.on(D0 + days(17)):
        services.treatment_stop_early(
            journey.p,
            on=D0 + days(17),
            reason="CRS grade 3 after INF3",
            reason_code="crs_icans",
            by=coordinator,
        )
    p = journey.refresh()
    assert (p.status, p.infusions_received, p.off_study_on) == (Status.IN_FOLLOW_UP, 3, None)
    assert statuses(p, "INF") == {
        "INF1": VisitStatus.DONE,
        "INF2": VisitStatus.DONE,
        "INF3": VisitStatus.DONE,
        "INF4": VisitStatus.NOT_APPLICABLE,
        "INF5": VisitStatus.NOT_APPLICABLE,
        "INF6": VisitStatus.NOT_APPLICABLE,
    }
    assert open_visit_codes(p) == FOLLOW_UP
    assert not p.visits.filter(definition__code="ET").exists()  # not a withdrawal
    change = p.status_changes.last()
    assert change.details == {
        "infusions_received": 3,
        "stopped_early": True,
        "reason_code": "crs_icans",
    }
    assert change.reason == "CRS grade 3 after INF3"


def test_stopping_treatment_early_needs_a_reason(journey, coordinator):
    journey.to_treatment()
    with journey.on(D0 + days(3)), pytest.raises(ValidationError, match="give the reason"):
        services.treatment_stop_early(
            journey.p, on=D0 + days(3), reason=" ", reason_code="adverse_event", by=coordinator
        )
    assert journey.status() == Status.IN_TREATMENT
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED


def test_second_infusion_less_than_5_days_after_the_first_is_refused(journey):
    journey.to_treatment()
    with pytest.raises(ValidationError) as refused:
        journey.infuse(2, D0 + days(4))
    assert "INF2 must be at least 5 days after INF1 (2026-02-20)" in str(refused.value)
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED
    assert journey.refresh().infusions_received == 1
    journey.infuse(2, D0 + days(5))
    assert journey.visit("INF2").status == VisitStatus.DONE
    assert journey.refresh().infusions_received == 2


def _ready_for_first_infusion(journey):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis(APHERESIS_ON)


def _give_inf1(journey, started):
    with journey.on(D0, hour=13):
        return services.visit_record_done(
            journey.visit("INF1"),
            actual_date=D0,
            started_at=started,
            dose="d",
            lot="l",
            by=journey.by,
        )


def _assert_not_started(journey):
    p = journey.refresh()
    assert p.status == Status.APHERESIS_DONE
    assert p.first_infusion_at is None
    assert journey.visit("INF1").status == VisitStatus.SCHEDULED


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("missing", "CBC not recorded"),
        ("abnormal", "IGG abnormal (IGG 300 mg/dL (alert))"),
        ("older_than_72h", "PREG older than 72 h; CBC older than 72 h; CHEM older than 72 h"),
        ("after_infusion", "recorded after the infusion time"),
    ],
)
def test_pre_dose_safety_item_problem_blocks_the_infusion(journey, setup, problem):
    _ready_for_first_infusion(journey)
    inf1 = journey.visit("INF1")
    started = journey.at(D0, 9)
    with journey.on(D0, hour=12):
        if setup == "missing":
            record_pre_dose(inf1, started - dt.timedelta(hours=2), journey.by)
            cbc = inf1.assessments.get(definition__code="CBC")
            Assessment.objects.filter(pk=cbc.pk).update(
                status=AssessmentStatus.PENDING, completed_at=None
            )
        elif setup == "abnormal":
            record_pre_dose(inf1, started - dt.timedelta(hours=2), journey.by, abnormal="IGG")
        elif setup == "older_than_72h":
            record_pre_dose(inf1, started - dt.timedelta(hours=72, minutes=1), journey.by)
        else:
            record_pre_dose(inf1, started + dt.timedelta(minutes=30), journey.by)
    with pytest.raises(ValidationError) as refused:
        _give_inf1(journey, started)
    assert problem in refused.value.messages[0]
    assert "cannot be recorded as given" in refused.value.messages[0]
    _assert_not_started(journey)


def test_pre_dose_results_exactly_72_hours_old_still_count(journey):
    _ready_for_first_infusion(journey)
    started = journey.at(D0, 9)
    with journey.on(D0, hour=9):
        record_pre_dose(journey.visit("INF1"), started - dt.timedelta(hours=72), journey.by)
        # Vital signs and the infection check have no age limit: they belong to the day itself.
        for a in journey.visit("INF1").assessments.filter(
            definition__code__in=["VS_PRE", "INFECT"]
        ):
            # Recorded 72 h early with the rest just above: taken again on the day, with the reason.
            record_result(
                a, at=started - dt.timedelta(minutes=30), by=journey.by, reason="Taken on the day"
            )
    _give_inf1(journey, started)
    assert journey.status() == Status.IN_TREATMENT


# --- The first-infusion date -------------------------------------------------------------------


def test_consent_more_than_59_days_before_the_first_infusion_is_refused_when_planning(journey):
    journey.enroll()
    with pytest.raises(ValidationError) as refused:
        journey.plan(CONSENT_ON + days(60))
    assert "60 days before the first infusion" in refused.value.message_dict["first_infusion_on"][0]
    assert journey.p.schedule.infusion_anchor is None
    assert not journey.p.visits.filter(definition__code="INF1").exists()
    journey.plan(CONSENT_ON + days(59))  # Day -59 is the limit, and allowed
    assert journey.visit("INF1").target_date == CONSENT_ON + days(59)


def test_consent_more_than_59_days_before_the_first_infusion_is_refused_when_starting(journey):
    journey.enroll()
    journey.plan(CONSENT_ON + days(59))
    journey.apheresis(APHERESIS_ON)
    late = CONSENT_ON + days(60)
    with pytest.raises(ValidationError, match="60 days before the first infusion"):
        journey.infuse(1, late)
    p = journey.refresh()
    assert p.status == Status.APHERESIS_DONE
    assert p.schedule.infusion_anchor == CONSENT_ON + days(59)
    assert not Reanchor.objects.exists()


def test_delayed_first_infusion_reanchors_the_d0_visits_not_done(journey, coordinator):
    journey.enroll()
    journey.plan(D0)
    journey.apheresis(APHERESIS_ON)
    # Arrange (not reachable through today's services): one D0 visit already closed.
    eot = journey.visit("EOT")
    Visit.objects.filter(pk=eot.pk).update(status=VisitStatus.DONE, actual_date=eot.target_date)
    due_before = {a.pk: a.due_at for a in Assessment.objects.filter(visit__participant=journey.p)}
    new_d0 = D0 + days(7)
    with journey.on(dt.date(2026, 2, 18)):
        assert (
            services.first_infusion_plan(
                journey.p, planned_on=new_d0, by=coordinator, reason="product release delayed"
            )
            == []
        )
    reanchor = Reanchor.objects.get(participant=journey.p)
    assert (reanchor.old_anchor, reanchor.new_anchor, reanchor.visits_moved) == (D0, new_d0, 11)
    assert (reanchor.reason, reanchor.changed_by) == ("product release delayed", coordinator)
    assert journey.refresh().schedule.infusion_anchor == new_d0
    for code, old_target in D0_TARGETS.items():
        v = journey.visit(code)
        if code == "EOT":
            assert (v.target_date, v.window_start, v.status) == (
                old_target,
                old_target - days(3),
                "done",
            )
        else:
            assert v.target_date == old_target + days(7), code
            assert v.window_end - v.target_date == dt.timedelta(days=v.definition.window_after)
            for a in v.assessments.all():
                # At the start of the day after the new window, New York time: across the
                # 8 March DST change the UTC instants differ by 7 days less an hour.
                assert a.due_at == window_closes_at(v.window_end, journey.p.site.tz), (code, a)
                assert a.due_at > due_before[a.pk]
    # Screening visits (anchored on consent) did not move.
    assert journey.visit("APH").target_date == dt.date(2026, 2, 2)


def test_moving_the_plan_needs_a_reason(journey, coordinator):
    journey.enroll()
    journey.plan(D0)
    with pytest.raises(ValidationError, match="reason"):
        journey.plan(D0 + days(3))
    assert journey.visit("INF1").target_date == D0


def test_first_infusion_given_later_than_planned_reanchors_on_the_day_given(journey):
    _ready_for_first_infusion(journey)
    given = D0 + days(2)
    journey.infuse(1, given)
    p = journey.refresh()
    assert (p.status, p.first_infusion_date, p.schedule.infusion_anchor) == (
        Status.IN_TREATMENT,
        given,
        given,
    )
    assert Reanchor.objects.get(participant=p).visits_moved == 12
    inf1 = journey.visit("INF1")
    assert (inf1.target_date, inf1.in_window, inf1.status) == (given, True, VisitStatus.DONE)
    assert journey.visit("M12").target_date == given + days(365)


# --- Missed visits, loss to follow-up, withdrawal, death ---------------------------------------


def test_missed_visit_is_allowed_for_month_3_only_once_its_window_is_open(journey, coordinator):
    journey.all_infusions()
    m3 = journey.visit("M3")
    with (
        journey.on(m3.window_start - days(1)),
        pytest.raises(ValidationError, match="cannot be missed yet"),
    ):
        services.visit_mark_missed(m3, reason="travel", by=coordinator)
    with journey.on(m3.window_end + days(1)):
        services.visit_mark_missed(m3, reason="travel", by=coordinator)
    m3 = journey.visit("M3")
    assert (m3.status, m3.reason, m3.recorded_by) == (VisitStatus.MISSED, "travel", coordinator)
    assert set(m3.assessments.values_list("status", flat=True)) == {AssessmentStatus.MISSED}
    assert journey.status() == Status.IN_FOLLOW_UP


@pytest.mark.parametrize("code", ["SCR", "INF1"])
def test_missed_visit_is_refused_for_screening_and_the_first_infusion(journey, coordinator, code):
    journey.enroll()
    journey.plan(D0)
    with (
        journey.on(D0 + days(1)),
        pytest.raises(ValidationError, match=f"{code} cannot be recorded as missed"),
    ):
        services.visit_mark_missed(journey.visit(code), reason="no show", by=coordinator)
    assert journey.visit(code).status == VisitStatus.SCHEDULED


def test_lost_to_follow_up_needs_three_attempts_and_reinstating_returns_to_follow_up(
    journey, coordinator
):
    journey.all_infusions()
    last_contact = dt.date(2026, 4, 1)
    today = dt.date(2026, 4, 20)
    with journey.on(today):
        with pytest.raises(
            ValidationError, match=r"at least 3 contact attempts on different dates \(2 given\)"
        ):
            services.participant_lose_to_follow_up(
                journey.p,
                last_contact_on=last_contact,
                contact_attempts=[dt.date(2026, 4, 5), dt.date(2026, 4, 5), dt.date(2026, 4, 9)],
                by=coordinator,
            )
        assert journey.status() == Status.IN_FOLLOW_UP
        services.participant_lose_to_follow_up(
            journey.p,
            last_contact_on=last_contact,
            contact_attempts=[dt.date(2026, 4, 5), dt.date(2026, 4, 9), dt.date(2026, 4, 16)],
            by=coordinator,
        )
    assert journey.status() == Status.LOST_TO_FOLLOW_UP
    assert open_visit_codes(journey.p) == FOLLOW_UP  # kept for a reinstatement
    with journey.on(dt.date(2026, 4, 22)):
        services.participant_reinstate(journey.p, on=dt.date(2026, 4, 22), by=coordinator)
    assert journey.status() == Status.IN_FOLLOW_UP
    assert open_visit_codes(journey.p) == FOLLOW_UP


def test_withdrawal_in_follow_up_closes_future_visits_and_lays_out_early_termination(
    journey, coordinator
):
    journey.all_infusions()
    journey.record("EOT", D0_TARGETS["EOT"])
    withdrawn_on = dt.date(2026, 4, 15)
    with journey.on(withdrawn_on):
        services.participant_withdraw(
            journey.p,
            on=withdrawn_on,
            reason="moved abroad",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    p = journey.refresh()
    assert (p.status, p.off_study_on, p.safety_follow_up_continues) == (
        Status.WITHDRAWN,
        withdrawn_on,
        False,
    )
    assert journey.visit("EOT").status == VisitStatus.DONE
    for code in FOLLOW_UP[1:]:
        assert journey.visit(code).status == VisitStatus.NOT_APPLICABLE, code
        assert set(journey.visit(code).assessments.values_list("status", flat=True)) == {
            AssessmentStatus.NOT_APPLICABLE
        }
    et = journey.visit("ET")
    assert (et.status, et.target_date, et.window_start, et.window_end) == (
        VisitStatus.SCHEDULED,
        withdrawn_on,
        withdrawn_on,
        withdrawn_on + days(14),
    )
    codes = set(et.assessments.values_list("definition__code", flat=True))
    assert "CRS_ICANS" not in codes
    assert {"PE", "VS", "CBC", "AE", "SLEDAI"} <= codes
    assert StatusChange.objects.filter(participant=p, to_status=Status.WITHDRAWN).get().details == {
        "safety_follow_up_continues": False,
        "withdrawn_from": Status.IN_FOLLOW_UP,
        "reason_code": "other",
    }
    journey.record("ET", withdrawn_on + days(3))  # the ET visit can still be recorded
    assert journey.visit("ET").in_window is True


def test_withdrawal_mid_treatment_early_termination_includes_crs_icans(journey, coordinator):
    journey.to_treatment()
    journey.infuse(2, D0 + days(7))
    withdrawn_on = D0 + days(10)
    with journey.on(withdrawn_on):
        services.participant_withdraw(
            journey.p,
            on=withdrawn_on,
            reason="withdrew consent",
            reason_code="consent_withdrawn",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    p = journey.refresh()
    assert p.status == Status.WITHDRAWN
    assert open_visit_codes(p) == ["ET"]
    assert statuses(p, "INF")["INF3"] == VisitStatus.NOT_APPLICABLE
    et = journey.visit("ET")
    assert "CRS_ICANS" in set(et.assessments.values_list("definition__code", flat=True))


def test_withdrawal_during_screening_has_no_early_termination_visit(journey, coordinator):
    with journey.on(ENROLL_ON):
        services.participant_withdraw(
            journey.p,
            on=ENROLL_ON,
            reason="changed mind",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    assert journey.status() == Status.WITHDRAWN
    assert open_visit_codes(journey.p) == []
    assert not journey.p.visits.filter(definition__code="ET").exists()


def test_death_closes_every_open_visit(journey, coordinator):
    journey.all_infusions()
    died_on = dt.date(2026, 4, 3)
    with journey.on(died_on + days(1)):
        services.participant_die(
            journey.p, on=died_on, cause="sepsis", sae_reference="SAE-0042", by=coordinator
        )
    p = journey.refresh()
    assert (p.status, p.off_study_on) == (Status.DIED, died_on)
    assert open_visit_codes(p) == []
    closed = p.visits.filter(status=VisitStatus.NOT_APPLICABLE)
    assert closed.count() == 6  # EOT to M12
    assert set(Assessment.objects.filter(visit__in=closed).values_list("status", flat=True)) == {
        AssessmentStatus.NOT_APPLICABLE
    }
    assert statuses(p)["M12"] == VisitStatus.NOT_APPLICABLE
    assert p.status_changes.last().details == {"sae_reference": "SAE-0042"}


def test_a_missed_infusion_does_not_block_the_next_one(journey, coordinator):
    journey.to_treatment()
    journey.infuse(2, D0 + days(7))
    inf3 = journey.visit("INF3")
    with journey.on(inf3.window_end + days(1)):
        services.visit_mark_missed(inf3, reason="held for CRS grade 2", by=coordinator)
    # INF4 is spaced from the last infusion given (INF2), and is recorded.
    journey.infuse(4, D0 + days(21))
    assert journey.visit("INF4").status == VisitStatus.DONE
    assert journey.refresh().infusions_received == 3


def test_an_infusion_is_refused_while_the_previous_one_is_still_open(journey):
    journey.to_treatment()
    with pytest.raises(ValidationError, match=r"Record INF2 \(given or missed\) before INF3"):
        journey.infuse(3, D0 + days(14))
    assert journey.visit("INF3").status == VisitStatus.SCHEDULED


def test_a_visit_counted_from_d0_cannot_be_recorded_before_the_first_infusion(journey):
    journey.enroll()
    journey.plan(D0)
    with pytest.raises(ValidationError, match="before the first infusion has been given"):
        journey.record("EOT", dt.date(2026, 1, 20))
    assert journey.visit("EOT").status == VisitStatus.SCHEDULED


def test_a_visit_counted_from_d0_cannot_be_dated_before_d0(journey):
    journey.to_treatment()
    with pytest.raises(
        ValidationError, match=r"cannot be before the first infusion \(2026-02-20\)"
    ):
        journey.record("EOT", D0 - days(1))


def test_month_12_does_not_complete_while_an_earlier_visit_is_open(journey, coordinator):
    journey.all_infusions()
    for code in ("EOT", "M2", "M3", "M6"):
        journey.record(code, journey.visit(code).target_date)
    m12 = journey.visit("M12")
    with pytest.raises(ValidationError, match=r"Record M9 \(done or missed\) before M12"):
        journey.record("M12", m12.target_date)
    assert journey.status() == Status.IN_FOLLOW_UP
    with journey.on(m12.target_date):
        services.visit_mark_missed(journey.visit("M9"), reason="hospitalised", by=coordinator)
    journey.record("M12", m12.target_date)
    assert journey.status() == Status.COMPLETED
    assert journey.visit("M9").status == VisitStatus.MISSED  # the deviation stays visible


@pytest.mark.parametrize("end", ["die", "screen_fail"])
def test_no_unscheduled_visit_is_added_after_the_participant_left_for_good(
    journey, coordinator, end
):
    with journey.on(ENROLL_ON):
        if end == "die":
            services.participant_die(
                journey.p, on=ENROLL_ON, cause="stroke", sae_reference="SAE-1", by=coordinator
            )
        else:
            services.participant_screen_fail(
                journey.p,
                on=ENROLL_ON,
                failed_criteria=["IN_SLE"],
                rescreen_allowed=False,
                by=coordinator,
            )
        with pytest.raises(ValidationError, match="no unscheduled visit can be added"):
            services.unscheduled_visit_add(journey.p, on=ENROLL_ON, reason="check", by=coordinator)
    assert not journey.p.visits.filter(definition__code="UNS").exists()


def test_unscheduled_visit_is_added_and_recorded_during_follow_up(journey, coordinator):
    journey.all_infusions()
    day = dt.date(2026, 4, 2)
    with journey.on(day):
        first = services.unscheduled_visit_add(journey.p, on=day, reason="rash", by=coordinator)
        second = services.unscheduled_visit_add(journey.p, on=day, reason="fever", by=coordinator)
    assert (first.occurrence, second.occurrence) == (1, 2)
    assert (second.target_date, second.window_end) == (day, day)
    journey.record("UNS", day, occurrence=2)
    assert journey.visit("UNS", 2).status == VisitStatus.DONE
