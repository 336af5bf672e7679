"""Protocol deviations drafted by the tracker (issue 9): an out-of-window visit, a missed visit, a
safety assessment not done or overdue, an infusion given over the pre-dose gate. Each cause drafts
exactly one deviation linked to it, in its own transaction, also when drafted again; important
when a safety item is missing or a safety check was overridden; withdrawn when the cause goes."""

import datetime as dt

import pytest

from notifications import services as notification_services
from schedule import services
from schedule.models import (
    Assessment,
    AssessmentStatus,
    Deviation,
    DeviationCategory,
    DeviationImportance,
    DeviationStatus,
    PreDoseOverride,
    Visit,
)
from schedule.services import deviations
from tests.support import CONSENT_ON, D0, Journey, days, local, record_pre_dose, record_result

SCR_WINDOW_END = CONSENT_ON + days(14)
INF2_DAY = D0 + days(7)


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def only_deviation(**cause) -> Deviation:
    [deviation] = Deviation.objects.filter(**cause)
    return deviation


# --- A visit done out of its window ----------------------------------------------------------


def test_a_visit_done_after_its_window_drafts_one_not_important_deviation_linked_to_it(journey):
    late = SCR_WINDOW_END + days(2)
    visit = journey.screening_visit(late)

    deviation = only_deviation()
    assert deviation.visit == visit
    assert deviation.participant == journey.p
    assert deviation.category == DeviationCategory.VISIT_OUT_OF_WINDOW
    assert deviation.cause_key == f"visit-out-of-window:{visit.pk}"
    assert deviation.importance == DeviationImportance.NOT_IMPORTANT
    assert "outside its window" in deviation.importance_reason
    assert deviation.status == DeviationStatus.DRAFT
    assert deviation.occurred_on == late
    assert deviation.identified_at == journey.at(late, 18)
    assert deviation.created_by is None and deviation.description == ""
    assert deviation.history.count() == 1


def test_drafting_the_out_of_window_deviation_again_keeps_the_one_draft(journey):
    visit = journey.screening_visit(SCR_WINDOW_END + days(2))
    first = Deviation.objects.get()

    again = deviations.deviation_draft_for_out_of_window(visit)

    assert again == first
    assert Deviation.objects.count() == 1


def test_nothing_is_drafted_for_a_visit_done_in_its_window(journey):
    journey.screening_visit(SCR_WINDOW_END)

    assert not Deviation.objects.exists()


def test_a_date_corrected_into_the_window_withdraws_the_draft_with_the_reason(journey):
    visit = journey.screening_visit(SCR_WINDOW_END + days(2))
    # No service corrects a visit date yet: correct it as one would, then call the hook.
    Visit.objects.filter(pk=visit.pk).update(actual_date=SCR_WINDOW_END, in_window=True)
    visit.refresh_from_db()

    with journey.on(SCR_WINDOW_END + days(3)):
        withdrawn = deviations.deviation_withdraw_if_resolved(visit)

    deviation = Deviation.objects.get()
    assert withdrawn == deviation
    assert deviation.status == DeviationStatus.WITHDRAWN
    assert deviation.withdrawn_reason == (
        "SCR's date corrected to 2026-01-19, within its window (2026-01-05 to 2026-01-19)."
    )
    assert deviation.history.latest().history_change_reason.startswith("SCR's date corrected")


def test_a_date_still_out_of_the_window_withdraws_nothing(journey):
    visit = journey.screening_visit(SCR_WINDOW_END + days(2))

    assert deviations.deviation_withdraw_if_resolved(visit) is None
    assert Deviation.objects.get().status == DeviationStatus.DRAFT


# --- A visit missed ----------------------------------------------------------------------------


def test_a_visit_marked_missed_with_safety_items_drafts_one_important_deviation(journey):
    journey.all_infusions()
    eot = journey.visit("EOT")
    with journey.on(eot.window_start):
        services.visit_mark_missed(eot, reason="no show", by=journey.by)

    deviation = only_deviation(category=DeviationCategory.VISIT_MISSED)
    assert deviation.visit == eot
    assert deviation.cause_key == f"visit-missed:{eot.pk}"
    assert deviation.importance == DeviationImportance.IMPORTANT
    assert deviation.importance_reason.startswith("EOT missed with its safety assessments (")
    assert "CBC" in deviation.importance_reason
    assert deviation.occurred_on == eot.window_end
    deviations.deviation_draft_for_missed_visit(eot)
    assert Deviation.objects.filter(category=DeviationCategory.VISIT_MISSED).count() == 1


def test_a_visit_missed_with_no_safety_item_missing_is_not_important_with_the_reason(journey):
    day = CONSENT_ON + days(3)
    with journey.on(day):
        uns = services.unscheduled_visit_add(journey.p, on=day, reason="flare", by=journey.by)
        for a in uns.assessments.filter(is_safety=True):
            record_result(a, at=journey.at(day, 12), by=journey.by)
        services.visit_mark_missed(uns, reason="came by phone only", by=journey.by)

    deviation = only_deviation(category=DeviationCategory.VISIT_MISSED)
    assert deviation.visit == uns
    assert deviation.importance == DeviationImportance.NOT_IMPORTANT
    assert deviation.importance_reason == "UNS missed; no safety assessment missing with it."


def test_visits_closed_as_missed_by_a_withdrawal_each_draft_one_deviation(journey):
    journey.all_infusions()
    withdrawn_on = D0 + days(70)  # EOT and M2 windows closed, never recorded
    with journey.on(withdrawn_on):
        services.participant_withdraw(
            journey.p,
            on=withdrawn_on,
            reason="Moved away",
            reason_code="other",
            safety_follow_up_continues=False,
            by=journey.by,
        )
    eot, m2 = journey.visit("EOT"), journey.visit("M2")

    missed = Deviation.objects.filter(category=DeviationCategory.VISIT_MISSED)
    assert sorted(d.visit_id for d in missed) == sorted([eot.pk, m2.pk])
    assert {d.importance for d in missed} == {DeviationImportance.IMPORTANT}
    for visit in (eot, m2):
        deviations.deviation_draft_for_missed_visit(visit)
    assert missed.count() == 2


# --- A safety assessment not done ------------------------------------------------------------


def scr_item(journey, *, safety: bool) -> Assessment:
    return journey.visit("SCR").assessments.filter(is_safety=safety).first()


def test_a_safety_assessment_recorded_not_done_drafts_one_important_deviation(journey):
    item = scr_item(journey, safety=True)
    day = CONSENT_ON + days(1)
    with journey.on(day):
        services.assessment_not_done(
            item, reason="sample haemolysed", not_applicable=False, by=journey.by
        )
    item.refresh_from_db()
    assert item.status == AssessmentStatus.MISSED

    deviation = only_deviation()
    assert deviation.category == DeviationCategory.SAFETY_MISSED
    assert (deviation.assessment, deviation.visit) == (item, item.visit)
    assert deviation.cause_key == f"assessment-missed:{item.pk}"
    assert deviation.importance == DeviationImportance.IMPORTANT
    assert deviation.occurred_on == day
    deviations.deviation_draft_for_missed_safety(item)
    assert Deviation.objects.count() == 1


def test_an_assessment_not_done_that_is_not_a_safety_item_drafts_nothing_yet(journey):
    with journey.on(CONSENT_ON + days(1)):
        services.assessment_not_done(
            scr_item(journey, safety=False), reason="forgot", not_applicable=False, by=journey.by
        )

    assert not Deviation.objects.exists()


# --- An overdue safety assessment (the overdue scan) -----------------------------------------


@pytest.mark.usefixtures("memory_broker")
def test_the_overdue_scan_drafts_one_important_deviation_per_item_it_flags_also_run_twice(
    journey, site
):
    overdue = list(journey.visit("SCR").assessments.filter(is_safety=True))
    at = local(SCR_WINDOW_END + days(2), 9, site.time_zone)

    with journey.on(SCR_WINDOW_END + days(2), hour=9):
        first = notification_services.overdue_scan(now=at)
        notification_services.overdue_scan(now=at + dt.timedelta(minutes=15))

    assert first.flagged == len(overdue) > 0
    drafts = Deviation.objects.filter(category=DeviationCategory.SAFETY_OVERDUE)
    assert sorted(d.assessment_id for d in drafts) == sorted(a.pk for a in overdue)
    assert {d.cause_key for d in drafts} == {f"assessment-overdue:{a.pk}" for a in overdue}
    assert {d.importance for d in drafts} == {DeviationImportance.IMPORTANT}
    assert {d.identified_at for d in drafts} == {at}
    assert {d.occurred_on for d in drafts} == {SCR_WINDOW_END + days(1)}
    assert Deviation.objects.count() == len(overdue)


def test_drafting_an_overdue_deviation_twice_keeps_the_first(journey, site):
    item = scr_item(journey, safety=True)
    at = local(SCR_WINDOW_END + days(2), 9, site.time_zone)

    assert deviations.deviation_drafts_for_overdue([item], at) == 1
    assert deviations.deviation_drafts_for_overdue([item], at + dt.timedelta(hours=1)) == 0

    draft = Deviation.objects.get()
    assert draft.identified_at == at and draft.cause_key == f"assessment-overdue:{item.pk}"
    # Its history row, as a draft saved one at a time would have: created, by nobody.
    assert [(h.history_type, h.history_user_id) for h in draft.history.all()] == [("+", None)]


# --- An infusion given over the pre-dose gate ------------------------------------------------


def test_an_infusion_given_over_the_pre_dose_gate_drafts_one_important_deviation(journey):
    journey.to_treatment()
    inf2 = journey.visit("INF2")
    with journey.on(INF2_DAY, hour=8):
        record_pre_dose(inf2, journey.at(INF2_DAY, 7, 30), journey.by)
    inf2.assessments.filter(definition__code="IGG").update(
        status=AssessmentStatus.PENDING, completed_at=None, result=""
    )
    with journey.on(INF2_DAY, hour=12):
        services.visit_record_done(
            inf2,
            actual_date=INF2_DAY,
            started_at=journey.at(INF2_DAY, 9),
            dose="1e6 cells/kg",
            lot="L-2",
            by=journey.investigator,
            override_reason="IgG sample lost; discussed with the medical monitor",
        )
    override = PreDoseOverride.objects.get(visit=inf2)

    deviation = only_deviation()
    assert deviation.category == DeviationCategory.GATE_OVERRIDDEN
    assert (deviation.pre_dose_override, deviation.visit) == (override, inf2)
    assert deviation.cause_key == f"pre-dose-override:{override.pk}"
    assert deviation.importance == DeviationImportance.IMPORTANT
    assert deviation.importance_reason == "a safety check was overridden"
    assert deviation.occurred_on == INF2_DAY
    deviations.deviation_draft_for_override(override, journey.at(INF2_DAY, 9))
    assert Deviation.objects.count() == 1
