"""A deviation's follow-up (issue 9): described and opened by the site, closed with its corrective
action, or withdrawn with the reason; edits of an open deviation carry a reason for change kept in
its history, and a save that changes nothing writes none. A visit's date corrected into its window
withdraws the out-of-window draft; corrected out of it, drafts it (once)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from schedule import services
from schedule.models import Deviation, DeviationImportance, DeviationStatus, Visit
from schedule.services.deviations import out_of_window_warning
from tests.support import CONSENT_ON, D0, PASSWORD, Journey, days

SCR_WINDOW_END = CONSENT_ON + days(14)  # SCR: consent day to 14 days after


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


@pytest.fixture
def late_scr(journey):
    """SCR recorded 2 days after its window closed: one out-of-window draft."""
    return journey.screening_visit(SCR_WINDOW_END + days(2))


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


# --- Saying so before it happens ---------------------------------------------------------------


def test_the_warning_counts_the_days_after_the_window_closed(journey):
    scr = journey.visit("SCR")

    assert out_of_window_warning(scr, SCR_WINDOW_END + days(2)) == (
        "This date is 2 days after the window closed (2026-01-19); a deviation will be drafted."
    )
    assert out_of_window_warning(scr, SCR_WINDOW_END + days(1)).startswith(
        "This date is 1 day after"
    )


def test_the_last_day_of_the_window_and_the_first_need_no_warning(journey):
    scr = journey.visit("SCR")

    assert out_of_window_warning(scr, SCR_WINDOW_END) == ""
    assert out_of_window_warning(scr, scr.window_start) == ""


def test_the_warning_counts_the_days_before_the_window_opened(journey):
    apheresis = journey.visit("APH")

    warning = out_of_window_warning(apheresis, apheresis.window_start - days(3))

    assert warning.startswith("This date is 3 days before the window opened (")


# --- Correcting a visit's date -----------------------------------------------------------------


def test_a_date_corrected_into_the_window_withdraws_the_draft_with_the_reason(journey, late_scr):
    with journey.on(SCR_WINDOW_END + days(5)):
        visit = services.visit_date_correct(
            late_scr,
            actual_date=SCR_WINDOW_END,
            reason="Typo: visit was on the 19th",
            by=journey.by,
        )

    assert visit.actual_date == SCR_WINDOW_END and visit.in_window is True
    deviation = Deviation.objects.get()
    assert deviation.status == DeviationStatus.WITHDRAWN
    assert deviation.withdrawn_reason.startswith("SCR's date corrected to 2026-01-19, within")
    latest = Visit.history.filter(id=visit.pk).latest()
    assert latest.history_change_reason == (
        "Date corrected from 2026-01-21: Typo: visit was on the 19th"
    )
    assert latest.history_user == journey.by


def test_a_date_corrected_to_the_day_after_the_window_keeps_the_one_draft_re_dated(
    journey, late_scr
):
    with journey.on(SCR_WINDOW_END + days(5)):
        services.visit_date_correct(
            late_scr, actual_date=SCR_WINDOW_END + days(1), reason="Wrong day", by=journey.by
        )

    deviation = Deviation.objects.get()
    assert deviation.status == DeviationStatus.DRAFT
    assert deviation.occurred_on == SCR_WINDOW_END + days(1)
    assert "done on 2026-01-20" in deviation.importance_reason


def test_a_date_corrected_out_of_the_window_and_back_and_out_again_keeps_one_deviation(journey):
    scr = journey.screening_visit(SCR_WINDOW_END)
    assert not Deviation.objects.exists()

    with journey.on(SCR_WINDOW_END + days(5)):
        services.visit_date_correct(
            scr, actual_date=SCR_WINDOW_END + days(1), reason="Clinic log says 20th", by=journey.by
        )
        assert Deviation.objects.get().status == DeviationStatus.DRAFT
        services.visit_date_correct(
            scr, actual_date=SCR_WINDOW_END, reason="Back: the 19th after all", by=journey.by
        )
        assert Deviation.objects.get().status == DeviationStatus.WITHDRAWN
        services.visit_date_correct(
            scr, actual_date=SCR_WINDOW_END + days(2), reason="Source says 21st", by=journey.by
        )

    deviation = Deviation.objects.get()
    assert (deviation.status, deviation.withdrawn_reason) == (DeviationStatus.DRAFT, "")
    assert deviation.occurred_on == SCR_WINDOW_END + days(2)


@pytest.mark.parametrize(
    ("new_date", "reason", "field", "message"),
    [
        (SCR_WINDOW_END + days(2), "same", "actual_date", "2026-01-21 is the date recorded."),
        (SCR_WINDOW_END + days(9), "future", "actual_date", "2026-01-28 is in the future."),
        (CONSENT_ON - days(1), "early", "actual_date", "The visit date is before consent."),
        (SCR_WINDOW_END, "  ", "reason", "Give the reason for the correction"),
        (SCR_WINDOW_END, "x" * 101, "reason", "Keep the reason to 100 characters"),
    ],
)
def test_a_refused_correction_names_its_field_and_saves_nothing(
    journey, late_scr, new_date, reason, field, message
):
    with journey.on(SCR_WINDOW_END + days(5)), pytest.raises(ValidationError) as refused:
        services.visit_date_correct(late_scr, actual_date=new_date, reason=reason, by=journey.by)

    assert field_errors(refused)[field][0].startswith(message)
    late_scr.refresh_from_db()
    assert late_scr.actual_date == SCR_WINDOW_END + days(2)
    assert Deviation.objects.get().status == DeviationStatus.DRAFT


def test_an_infusion_date_is_not_corrected_here(journey):
    journey.to_treatment()
    with journey.on(D0 + days(2)), pytest.raises(ValidationError) as refused:
        services.visit_date_correct(
            journey.visit("INF1"), actual_date=D0 - days(1), reason="typo", by=journey.by
        )

    assert "infusion or collection record" in refused.value.messages[0]


def test_a_study_manager_cannot_correct_a_visit_date(journey, late_scr, manager):
    with journey.on(SCR_WINDOW_END + days(5)), pytest.raises(PermissionDenied):
        services.visit_date_correct(late_scr, actual_date=SCR_WINDOW_END, reason="typo", by=manager)

    assert Deviation.objects.get().status == DeviationStatus.DRAFT


# --- Describe, open, close, withdraw -----------------------------------------------------------


def describe_and_open(journey, deviation) -> Deviation:
    services.deviation_edit(
        deviation, by=journey.by, description="SCR done 2 days late: participant had flu."
    )
    return services.deviation_open(deviation, by=journey.by)


def test_opening_a_draft_needs_its_description(journey, late_scr):
    deviation = Deviation.objects.get()

    with pytest.raises(ValidationError) as refused:
        services.deviation_open(deviation, by=journey.by)

    assert "description" in field_errors(refused)
    assert Deviation.objects.get().status == DeviationStatus.DRAFT


def test_describing_the_draft_needs_no_reason_and_opening_it_is_kept_in_history(journey, late_scr):
    opened = describe_and_open(journey, Deviation.objects.get())

    assert opened.status == DeviationStatus.OPEN
    reasons = list(
        opened.history.order_by("history_id").values_list("history_change_reason", flat=True)
    )
    assert reasons[-2:] == ["Draft described", "Opened"]
    assert opened.history.latest().history_user == journey.by


def test_closing_requires_the_corrective_action(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())

    with pytest.raises(ValidationError) as refused:
        services.deviation_close(deviation, by=journey.by, corrective_action="  ")

    assert field_errors(refused)["corrective_action"] == [
        "Write the corrective action taken before closing it."
    ]
    assert Deviation.objects.get().status == DeviationStatus.OPEN

    closed = services.deviation_close(
        deviation, by=journey.by, corrective_action="Reminder call 2 days before each visit."
    )
    assert closed.status == DeviationStatus.CLOSED
    assert closed.corrective_action == "Reminder call 2 days before each visit."


def test_a_draft_is_not_closed_before_it_is_opened(journey, late_scr):
    with pytest.raises(ValidationError) as refused:
        services.deviation_close(
            Deviation.objects.get(), by=journey.by, corrective_action="Called the participant."
        )

    assert refused.value.messages == [
        "This deviation is draft (by the tracker): it cannot be closed."
    ]


def test_a_closed_deviation_is_not_changed(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())
    services.deviation_close(deviation, by=journey.by, corrective_action="Called.")

    with pytest.raises(ValidationError):
        services.deviation_edit(deviation, by=journey.by, reason="fix", description="other")

    assert Deviation.objects.get().description.startswith("SCR done 2 days late")


def test_editing_an_open_deviation_asks_for_the_reason_and_keeps_it_in_history(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())

    with pytest.raises(ValidationError) as refused:
        services.deviation_edit(
            deviation,
            by=journey.by,
            importance=DeviationImportance.IMPORTANT,
            importance_reason="Eligibility labs drawn out of window",
        )
    assert "reason" in field_errors(refused)

    changed = services.deviation_edit(
        deviation,
        by=journey.by,
        reason="Monitor's review: the labs were part of the visit",
        importance=DeviationImportance.IMPORTANT,
        importance_reason="Eligibility labs drawn out of window",
    )

    assert changed == ["importance", "importance_reason"]
    deviation.refresh_from_db()
    assert deviation.importance == DeviationImportance.IMPORTANT
    latest = deviation.history.latest()
    assert latest.history_change_reason == "Monitor's review: the labs were part of the visit"


def test_a_save_that_changes_nothing_writes_no_history_row(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())
    rows = deviation.history.count()

    changed = services.deviation_edit(
        deviation,
        by=journey.by,
        reason="",
        description="SCR done 2 days late: participant had flu.",
        importance=deviation.importance,
    )

    assert changed == []
    assert deviation.history.count() == rows


def test_withdrawing_needs_the_reason_and_keeps_it(journey, late_scr):
    deviation = Deviation.objects.get()

    with pytest.raises(ValidationError) as refused:
        services.deviation_withdraw(deviation, by=journey.by, reason="")
    assert "reason" in field_errors(refused)

    withdrawn = services.deviation_withdraw(
        deviation, by=journey.by, reason="Window extended by the sponsor's note to file"
    )
    assert withdrawn.status == DeviationStatus.WITHDRAWN
    assert withdrawn.withdrawn_reason == "Window extended by the sponsor's note to file"


def test_a_study_manager_reads_but_does_not_change_a_deviation(journey, late_scr, manager):
    with pytest.raises(PermissionDenied):
        services.deviation_edit(Deviation.objects.get(), by=manager, description="mine")

    assert Deviation.objects.get().description == ""


# --- Closing an important deviation is the investigator's signature ----------------------------


@pytest.fixture
def important(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())
    services.deviation_edit(
        deviation,
        by=journey.by,
        reason="Monitor: eligibility labs were drawn late",
        importance=DeviationImportance.IMPORTANT,
        importance_reason="Eligibility labs out of window",
    )
    deviation.refresh_from_db()
    return deviation


def test_a_coordinator_cannot_close_an_important_deviation(journey, important):
    with pytest.raises(ValidationError) as refused:
        services.deviation_close(
            important, by=journey.by, corrective_action="Labs redrawn.", password=PASSWORD
        )

    assert "investigator" in field_errors(refused)["password"][0]
    assert Deviation.objects.get().status == DeviationStatus.OPEN


def test_a_wrong_password_is_refused_and_nothing_is_saved(journey, important):
    with pytest.raises(ValidationError) as refused:
        services.deviation_close(
            important, by=journey.investigator, corrective_action="Labs redrawn.", password="no"
        )

    assert field_errors(refused)["password"][0].startswith("That is not your password")
    deviation = Deviation.objects.get()
    assert (deviation.status, deviation.corrective_action, deviation.signed_at) == (
        DeviationStatus.OPEN,
        "",
        None,
    )


def test_the_investigator_signs_and_closes_an_important_deviation(journey, important):
    at = journey.at(SCR_WINDOW_END + days(9), 14)

    closed = services.deviation_close(
        important,
        by=journey.investigator,
        corrective_action="Labs redrawn in window.",
        password=PASSWORD,
        now=at,
    )

    assert closed.status == DeviationStatus.CLOSED
    assert (closed.signed_by, closed.signed_at, closed.signed_meaning) == (
        journey.investigator,
        at,
        "deviation_reviewed",
    )
    assert closed.signed_name == journey.investigator.get_username()
    assert closed.history.latest().history_change_reason == "Closed, signed: deviation reviewed"


def test_a_deviation_that_is_not_important_closes_without_a_signature(journey, late_scr):
    deviation = describe_and_open(journey, Deviation.objects.get())

    closed = services.deviation_close(deviation, by=journey.by, corrective_action="Called.")

    assert closed.status == DeviationStatus.CLOSED and closed.signed_at is None


# --- The report to the IRB ---------------------------------------------------------------------


def test_the_report_to_the_irb_is_kept_and_one_in_the_future_is_refused(journey, late_scr):
    deviation = Deviation.objects.get()
    now = journey.at(SCR_WINDOW_END + days(5), 12)

    with pytest.raises(ValidationError) as refused:
        services.deviation_edit(
            deviation, by=journey.by, now=now, reported_to_irb_at=now + dt.timedelta(minutes=1)
        )
    assert field_errors(refused)["reported_to_irb_at"] == [
        "The report to the IRB is in the future."
    ]

    services.deviation_edit(deviation, by=journey.by, now=now, reported_to_irb_at=now)
    assert Deviation.objects.get().reported_to_irb_at == now


def test_a_report_to_the_irb_before_the_deviation_occurred_is_refused(journey, late_scr):
    deviation = Deviation.objects.get()
    day_before = journey.at(deviation.occurred_on - days(1), 23)

    with pytest.raises(ValidationError) as refused:
        services.deviation_edit(deviation, by=journey.by, reported_to_irb_at=day_before)

    assert field_errors(refused)["reported_to_irb_at"][0].startswith(
        "The report to the IRB is before the deviation occurred (2026-01-21)"
    )
