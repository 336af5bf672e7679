"""Reason for change (participants.audit.reason_for_change): changing recorded data (a result, lab
values, a visit's date, the planned first infusion that dates the visits) asks for the reason and
keeps it in the history; a save that changes nothing writes no history row (nor does an adverse
event's seriousness, report or resolution recorded again: refused)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from safety.models import ActionTaken, LabResult, Outcome, Relatedness, Seriousness
from safety.services import adverse_events as ae
from safety.services import labs
from safety.services.sae import sae_report_to_sponsor
from schedule import services
from schedule.services.deviations_corrections import visit_date_correct
from tests.support import D0, ENROLL_ON, NORMAL_LABS, Journey, record_result

DAY = dt.date(2026, 1, 6)


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    with j.on(DAY):
        services.visit_record_done(j.visit("SCR"), actual_date=DAY, by=coordinator)
    return j


def item(journey, code):
    return journey.visit("SCR").assessments.get(definition__code=code)


def record(journey, code, *, result="BP 120/80", hour=9, reason=""):
    with journey.on(DAY, hour=12):
        return record_result(
            item(journey, code),
            at=journey.at(DAY, hour),
            by=journey.by,
            result=result,
            reason=reason,
        )


def cbc_values(**changed):
    return {code: changed.get(code, NORMAL_LABS[code]) for code in labs.LAB_PANELS["CBC"]}


def enter_cbc(journey, values, *, reason=""):
    with journey.on(DAY, hour=12):
        return labs.lab_results_record(
            item(journey, "CBC"),
            values=values,
            completed_at=journey.at(DAY, 9),
            by=journey.by,
            reason=reason,
        )


# --- results --------------------------------------------------------------------------------


def test_a_changed_result_without_a_reason_is_refused_and_nothing_is_saved(journey):
    vs = record(journey, "VS")
    rows = vs.history.count()
    with pytest.raises(ValidationError) as refused:
        record(journey, "VS", result="BP 150/95")
    assert refused.value.message_dict == {
        "reason": ["Give the reason for changing a recorded result (kept in its history)."]
    }
    vs.refresh_from_db()
    assert vs.result == "BP 120/80" and vs.history.count() == rows


def test_a_changed_result_time_needs_a_reason_too(journey):
    record(journey, "VS")
    with pytest.raises(ValidationError) as refused:
        record(journey, "VS", hour=10)
    assert list(refused.value.message_dict) == ["reason"]


def test_with_a_reason_the_reason_is_in_the_history(journey):
    rows = record(journey, "VS").history.count()
    vs = record(
        journey, "VS", result="BP 150/95", reason="Transcription error: read the wrong line"
    )
    latest = vs.history.first()
    assert latest.result == "BP 150/95"
    assert latest.history_change_reason == "Transcription error: read the wrong line"
    assert vs.history.count() == rows + 1


def test_a_reason_longer_than_the_history_keeps_is_refused_not_cut(journey):
    record(journey, "VS")
    with pytest.raises(ValidationError) as refused:
        record(journey, "VS", result="BP 150/95", reason="x" * 101)
    assert refused.value.message_dict == {
        "reason": ["Keep the reason to 100 characters (this is 101)."]
    }
    record(journey, "VS", result="BP 150/95", reason="x" * 100)
    assert item(journey, "VS").history.first().history_change_reason == "x" * 100


def test_recording_the_same_result_again_writes_no_history_row(journey):
    vs = record(journey, "VS")
    rows = vs.history.count()
    again = record(journey, "VS")  # no reason needed: nothing changes
    assert again.history.count() == rows


# --- lab values -----------------------------------------------------------------------------


def test_changed_lab_values_without_a_reason_are_refused_and_nothing_is_saved(journey):
    cbc = enter_cbc(journey, cbc_values())
    rows = LabResult.history.count()
    with pytest.raises(ValidationError) as refused:
        enter_cbc(journey, cbc_values(ANC=("1.1", "10^9/L")))
    assert refused.value.message_dict == {
        "reason": ["Give the reason for changing recorded lab values (kept in its history)."]
    }
    assert str(cbc.lab_results.get(code="ANC").entered_value.normalize()) == "3.2"
    assert LabResult.history.count() == rows


def test_the_same_value_entered_in_another_unit_is_a_change_that_needs_a_reason(journey):
    enter_cbc(journey, cbc_values())
    with pytest.raises(ValidationError) as refused:
        enter_cbc(journey, cbc_values(ANC=("3200", "/mm3")))
    assert list(refused.value.message_dict) == ["reason"]


def test_changed_lab_values_with_a_reason_keep_it_in_the_history_of_the_changed_value(journey):
    enter_cbc(journey, cbc_values())
    cbc = enter_cbc(
        journey, cbc_values(ANC=("1.1", "10^9/L")), reason="Lab sent a corrected report"
    )
    anc = cbc.lab_results.get(code="ANC")
    assert anc.history.first().history_change_reason == "Lab sent a corrected report"
    assert cbc.history.first().history_change_reason == "Lab sent a corrected report"
    # The values that did not change keep their one row.
    assert cbc.lab_results.get(code="PLT").history.count() == 1


def test_entering_the_same_lab_values_again_writes_no_history_row(journey):
    cbc = enter_cbc(journey, cbc_values())
    rows = (cbc.history.count(), LabResult.history.count())
    again = enter_cbc(journey, cbc_values())
    assert (again.history.count(), LabResult.history.count()) == rows


# --- the page -------------------------------------------------------------------------------


def test_the_result_page_asks_for_the_reason_only_once_a_result_is_recorded(journey, client):
    url = reverse("dashboard:assessment_record", args=[item(journey, "VS").pk])
    client.force_login(journey.by)
    with journey.on(DAY, hour=12):
        assert "reason" not in client.get(url).context["form"].fields
        record(journey, "VS")
        form_data = {"result": "BP 150/95", "completed_on": "2026-01-06", "completed_time": "09:00"}
        refused = client.post(url, form_data)
        assert refused.status_code == 200
        assert refused.context["form"].errors["reason"] == [
            "Give the reason for changing a recorded result (kept in its history)."
        ]
        saved = client.post(url, {**form_data, "reason": "Re-measured, first cuff too small"})
    assert saved.status_code == 302
    assert item(journey, "VS").history.first().history_change_reason == (
        "Re-measured, first cuff too small"
    )


# --- the first infusion, which dates the visits ---------------------------------------------


def test_planning_the_same_first_infusion_again_writes_no_history_row(journey):
    journey.enroll()
    journey.plan(D0)
    schedule = journey.refresh().schedule
    rows = (schedule.history.count(), journey.visit("INF1").history.count())
    with journey.on(ENROLL_ON):
        services.first_infusion_plan(journey.p, planned_on=D0, by=journey.by)
    assert (schedule.history.count(), journey.visit("INF1").history.count()) == rows


def test_moving_the_first_infusion_without_a_reason_is_refused(journey):
    journey.enroll()
    journey.plan(D0)
    with pytest.raises(ValidationError) as refused:
        journey.plan(D0 + dt.timedelta(days=3))
    assert list(refused.value.message_dict) == ["reason"]
    journey.plan(D0 + dt.timedelta(days=3), reason="Product release delayed")
    assert "Product release delayed" in journey.visit("INF1").history.first().history_change_reason


# --- a visit's date (schedule.services.deviations_corrections) ------------------------------


def correct_scr(journey, day, reason=""):
    with journey.on(DAY + dt.timedelta(days=3)):
        return visit_date_correct(
            journey.visit("SCR"), actual_date=day, reason=reason, by=journey.by
        )


def test_a_changed_visit_date_without_a_reason_is_refused_and_nothing_is_saved(journey):
    scr = journey.visit("SCR")
    rows = scr.history.count()
    with pytest.raises(ValidationError) as refused:
        correct_scr(journey, DAY + dt.timedelta(days=1))
    assert list(refused.value.message_dict) == ["reason"]
    scr.refresh_from_db()
    assert scr.actual_date == DAY and scr.history.count() == rows


def test_a_changed_visit_date_with_a_reason_keeps_it_in_the_history(journey):
    scr = correct_scr(journey, DAY + dt.timedelta(days=1), reason="Visit was on the 7th: typo")
    assert scr.actual_date == DAY + dt.timedelta(days=1)
    assert "Visit was on the 7th: typo" in scr.history.first().history_change_reason


def test_the_same_visit_date_again_writes_no_history_row(journey):
    scr = journey.visit("SCR")
    rows = scr.history.count()
    with pytest.raises(ValidationError):
        correct_scr(journey, DAY, reason="No change")
    assert scr.history.count() == rows


# --- adverse events: a repeated change is refused and writes no history row -----------------

AE_DAY = dt.date(2026, 1, 20)


def serious_fever(journey):
    with journey.on(AE_DAY):
        return ae.ae_record(
            journey.p,
            by=journey.by,
            term="Fever after the screening visit",
            onset_date=AE_DAY - dt.timedelta(days=1),
            grade=3,
            serious=True,
            seriousness_criteria=[Seriousness.HOSPITALISATION],
            related_to_product=Relatedness.NOT_RELATED,
            related_to_leukapheresis=Relatedness.NOT_RELATED,
            action_taken=ActionTaken.NONE,
            outcome=Outcome.NOT_RECOVERED,
            aware_at=journey.at(AE_DAY, 9),
        )


def test_the_same_seriousness_again_is_refused_and_writes_no_history_row(journey):
    event = serious_fever(journey)
    rows = event.history.count()
    with journey.on(AE_DAY), pytest.raises(ValidationError) as refused:
        ae.ae_update_seriousness(
            event,
            serious=True,
            seriousness_criteria=[Seriousness.HOSPITALISATION],
            by=journey.by,
        )
    assert refused.value.message_dict == {"seriousness_criteria": ["Nothing changed."]}
    assert event.history.count() == rows


def test_an_sae_report_recorded_twice_writes_no_second_history_row(journey):
    event = serious_fever(journey)
    with journey.on(AE_DAY):
        sae_report_to_sponsor(event, at=journey.at(AE_DAY, 10), by=journey.by)
        rows = event.history.count()
        with pytest.raises(ValidationError):
            sae_report_to_sponsor(event, at=journey.at(AE_DAY, 10), by=journey.by)
    assert event.history.count() == rows


def test_an_event_resolved_twice_writes_no_second_history_row(journey):
    event = serious_fever(journey)
    with journey.on(AE_DAY + dt.timedelta(days=2)):
        ae.ae_resolve(
            event, on=AE_DAY + dt.timedelta(days=1), outcome=Outcome.RECOVERED, by=journey.by
        )
        rows = event.history.count()
        with pytest.raises(ValidationError):
            ae.ae_resolve(
                event, on=AE_DAY + dt.timedelta(days=1), outcome=Outcome.RECOVERED, by=journey.by
            )
    assert event.history.count() == rows
