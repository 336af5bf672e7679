"""Flows that keep work and stop mistakes (issue 13, item 2): post-dose results only after the
infusion, no "Record done"/"Missed" before a window opens, moving D0 with a preview of every
visit that moves, one check of a first-infusion date for the plan and schedule_preview, and
assessment forms that default to the visit's date and put time errors under the time."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from schedule import forms, services
from schedule.models import Anchor, Reanchor, VisitStatus
from schedule.preview import protocol_preview
from schedule.services.reanchoring import d0_move_preview
from tests.support import APHERESIS_ON, D0, Journey, days, local, record_result


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


def post_dose(visit):
    return visit.assessments.select_related("definition").get(definition__code="OBS")


# --- A post-dose result only after its infusion -------------------------------------------------


def test_a_post_dose_result_before_the_infusion_is_given_is_refused_under_its_time(journey):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    obs = post_dose(journey.visit("INF1"))
    with journey.on(D0, hour=8), pytest.raises(ValidationError) as refused:
        services.assessment_record(
            obs,
            result="observed 2 h",
            is_abnormal=False,
            completed_at=journey.at(D0, 7),
            by=journey.by,
        )
    assert refused.value.message_dict == {
        "completed_at": [
            "OBS is checked after the infusion: record INF1 as given (with the time it "
            "started) first."
        ]
    }
    obs.refresh_from_db()
    assert obs.status == "pending"


def test_a_post_dose_result_timed_before_the_infusion_started_is_refused(journey):
    journey.to_treatment()
    inf2 = journey.visit("INF2")
    journey.infuse(2, D0 + days(7), hour=10)
    obs = post_dose(inf2)
    with journey.on(D0 + days(7), hour=16):
        # Already recorded by the journey at 13:00; re-recording at 09:59 is before the start.
        with pytest.raises(ValidationError) as refused:
            services.assessment_record(
                obs,
                result="observed",
                is_abnormal=False,
                completed_at=journey.at(D0 + days(7), 9, 59),
                by=journey.by,
                reason="time corrected",
            )
    assert refused.value.message_dict["completed_at"] == [
        "The result time is before INF2 started (2026-02-27 10:00 site time)."
    ]


def test_the_assessment_form_puts_the_post_dose_refusal_under_the_time_field(journey):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    obs = post_dose(journey.visit("INF1"))
    with journey.on(D0, hour=8):
        form = forms.AssessmentForm(
            {"result": "observed", "completed_on": "2026-02-20", "completed_time": "07:00"},
            assessment=obs,
            user=journey.by,
        )
        assert form.is_valid(), form.errors
        assert form.perform() is None
    assert list(form.errors) == ["completed_time"]
    assert "record INF1 as given" in form.errors["completed_time"][0]


def test_a_result_recorded_late_defaults_to_the_visits_date(journey):
    journey.screening_visit()  # SCR done on 12 Jan
    vs = journey.visit("SCR").assessments.get(definition__code="PE")
    with journey.on(dt.date(2026, 1, 20)):
        form = forms.AssessmentForm(assessment=vs, user=journey.by)
    assert form.initial["completed_on"] == dt.date(2026, 1, 12)


def test_a_result_of_a_visit_not_yet_done_defaults_to_today(journey):
    vs = journey.visit("SCR").assessments.get(definition__code="PE")
    with journey.on(dt.date(2026, 1, 8)):
        form = forms.AssessmentForm(assessment=vs, user=journey.by)
    assert form.initial["completed_on"] == dt.date(2026, 1, 8)


# --- Nothing to record before the window opens ---------------------------------------------------


def test_month_12_before_its_window_is_refused_naming_its_window_not_another_visit(journey):
    journey.all_infusions()
    m12 = journey.visit("M12")
    assert m12.window_start == D0 + days(365 - 14)
    day = D0 + days(60)
    with journey.on(day), pytest.raises(ValidationError) as refused:
        services.visit_record_done(m12, actual_date=day, by=journey.by)
    assert refused.value.messages == [
        f"{m12}'s window opens on 2027-02-06: it cannot be recorded as done yet."
    ]


def test_missing_a_visit_the_day_before_its_window_opens_is_refused_and_on_that_day_allowed(
    journey,
):
    journey.all_infusions()
    m2 = journey.visit("M2")
    with journey.on(m2.window_start - days(1)), pytest.raises(ValidationError, match="opens on"):
        services.visit_mark_missed(m2, reason="travelling", by=journey.by)
    with journey.on(m2.window_start):
        services.visit_mark_missed(m2, reason="travelling", by=journey.by)
    m2.refresh_from_db()
    assert m2.status == VisitStatus.MISSED


def _buttons(client, journey, code) -> str:
    page = client.get(reverse("dashboard:participant", args=[journey.p.pk])).content.decode()
    row = re.search(rf'<tr[^>]*id="visit-{journey.visit(code).pk}".*?</tr>', page, re.S)
    return row.group(0)


def test_record_done_and_missed_are_offered_from_the_day_a_window_opens(client, journey):
    journey.all_infusions()
    client.force_login(journey.by)
    m2 = journey.visit("M2")
    with journey.on(m2.window_start - days(1)):
        before = _buttons(client, journey, "M2")
        m12 = _buttons(client, journey, "M12")
    with journey.on(m2.window_start):
        opened = _buttons(client, journey, "M2")
    assert "Record done" not in before and ">Missed<" not in before
    assert "window opens 2026-04-16" in before
    assert "Record done" not in m12 and ">Missed<" not in m12
    assert "Record done" in opened and ">Missed<" in opened


def test_the_first_infusion_is_offered_before_its_planned_day(client, journey):
    # Given on another day than planned, INF1 moves D0: it is never hidden behind its window.
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    client.force_login(journey.by)
    with journey.on(D0 - days(2)):
        assert "Record done" in _buttons(client, journey, "INF1")


# --- Moving the first infusion -------------------------------------------------------------------


@pytest.fixture
def planned(journey):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    return journey


def test_the_move_preview_lists_exactly_the_dates_the_move_writes(planned):
    new_d0 = D0 + days(3)
    with planned.on(APHERESIS_ON + days(1)):
        preview = {
            m.visit.pk: (m.code, m.new.target, m.new.start, m.new.end)
            for m in d0_move_preview(planned.p, new_d0)
        }
        services.first_infusion_plan(planned.p, planned_on=new_d0, reason="chair", by=planned.by)
    written = {
        v.pk: (v.code, v.target_date, v.window_start, v.window_end)
        for v in planned.p.visits.filter(definition__anchor=Anchor.FIRST_INFUSION).select_related(
            "definition"
        )
    }
    assert preview == written
    assert len(preview) == 12  # INF1-6, EOT, M2, M3, M6, M9, M12
    assert Reanchor.objects.get(participant=planned.p).visits_moved == len(preview)


def test_the_move_preview_leaves_out_visits_already_done(planned):
    planned.infuse(1, D0)
    moves = d0_move_preview(planned.p, D0 + days(1))
    assert "INF1" not in [m.code for m in moves]
    assert moves[0].old.target == D0 + days(7) and moves[0].new.target == D0 + days(8)


def test_the_plan_form_starts_from_the_current_first_infusion_date(client, planned):
    client.force_login(planned.by)
    url = reverse("dashboard:participant_action", args=[planned.p.pk, "plan-infusion"])
    with planned.on(APHERESIS_ON + days(1)):
        page = client.get(url).content.decode()
    assert 'value="2026-02-20"' in page  # D0, not today (3 Feb)


def test_moving_d0_shows_every_move_saves_nothing_then_confirms_with_the_count(client, planned):
    client.force_login(planned.by)
    url = reverse("dashboard:participant_action", args=[planned.p.pk, "plan-infusion"])
    data = {"planned_on": "2026-02-23", "reason": "chair unavailable"}
    with planned.on(APHERESIS_ON + days(1)):
        shown = client.post(url, data)
        page = shown.content.decode()
        assert shown.status_code == 200
        assert "12 visits will move" in page
        assert "2026-02-27" in page and "2026-03-02" in page  # INF2 old and new target
        assert 'name="preview_of" value="2026-02-23"' in page
        assert not Reanchor.objects.exists()
        assert planned.p.schedule.infusion_anchor == D0

        done = client.post(url, {**data, "preview_of": "2026-02-23"}, follow=True)
    planned.p.schedule.refresh_from_db()
    assert planned.p.schedule.infusion_anchor == dt.date(2026, 2, 23)
    page = done.content.decode()
    assert "moved from 2026-02-20 to 2026-02-23; 12 visits moved" in page
    moves = re.search(r'<section id="d0-moves".*?</section>', page, re.S).group(0)
    assert "2026-02-20" in moves and "2026-02-23" in moves and "chair unavailable" in moves


def test_a_confirmation_for_another_date_shows_the_new_preview_instead_of_saving(client, planned):
    client.force_login(planned.by)
    url = reverse("dashboard:participant_action", args=[planned.p.pk, "plan-infusion"])
    with planned.on(APHERESIS_ON + days(1)):
        page = client.post(
            url, {"planned_on": "2026-02-24", "reason": "x", "preview_of": "2026-02-23"}
        ).content.decode()
    assert 'name="preview_of" value="2026-02-24"' in page
    assert not Reanchor.objects.exists()


def test_a_move_without_a_reason_keeps_the_preview_and_asks_for_it(client, planned):
    client.force_login(planned.by)
    url = reverse("dashboard:participant_action", args=[planned.p.pk, "plan-infusion"])
    with planned.on(APHERESIS_ON + days(1)):
        page = client.post(
            url, {"planned_on": "2026-02-23", "reason": "", "preview_of": "2026-02-23"}
        ).content.decode()
    assert field_error(page, "reason") == "Give the reason the first infusion moves."
    assert "12 visits will move" in page
    assert not Reanchor.objects.exists()


# --- One check of a first-infusion date -----------------------------------------------------------


def _preview_warnings(journey, d0, today):
    preview = protocol_preview(journey.p.consent_date, d0, today=today)
    return preview.errors, preview.warnings


@pytest.mark.parametrize(
    ("d0", "today"),
    [
        (dt.date(2026, 2, 10), dt.date(2026, 1, 12)),  # 8 days after the planned leukapheresis
        (dt.date(2026, 1, 30), dt.date(2026, 1, 12)),  # before the planned leukapheresis (2 Feb)
        (dt.date(2026, 2, 16), dt.date(2026, 2, 18)),  # in the past
    ],
    ids=["short gap", "before the leukapheresis", "in the past"],
)
def test_planning_warns_in_the_words_schedule_preview_uses_for_the_same_dates(journey, d0, today):
    journey.screening_visit()
    journey.enroll()
    with journey.on(today):
        warnings = services.first_infusion_plan(journey.p, planned_on=d0, by=journey.by)
    errors, preview_warnings = _preview_warnings(journey, d0, today)
    assert errors == []
    assert warnings
    assert set(warnings) <= set(preview_warnings)


def test_the_past_and_the_planned_leukapheresis_are_named_in_the_warnings(journey):
    journey.screening_visit()
    journey.enroll()
    with journey.on(dt.date(2026, 2, 5)):
        warnings = services.first_infusion_plan(
            journey.p, planned_on=dt.date(2026, 2, 1), by=journey.by
        )
    assert warnings == [
        "The first infusion (2026-02-01) must come after the planned leukapheresis "
        "(2026-02-02): the product is made from it.",
        "The first infusion date (2026-02-01) is in the past (today at the site: 2026-02-05). "
        "Plan a past date only to enter an infusion already given; otherwise plan the day it "
        "will be given.",
    ]


def test_a_first_infusion_on_or_before_a_collected_leukapheresis_is_refused(planned):
    with planned.on(APHERESIS_ON + days(1)), pytest.raises(ValidationError) as refused:
        services.first_infusion_plan(
            planned.p, planned_on=APHERESIS_ON, by=planned.by, reason="earlier"
        )
    assert refused.value.message_dict == {
        "first_infusion_on": [
            "The first infusion (2026-02-02) must come after the leukapheresis (2026-02-02): "
            "the product is made from it."
        ]
    }
    assert planned.p.schedule.infusion_anchor == D0


def test_the_consent_rule_refuses_the_plan_and_the_preview_alike(journey):
    journey.screening_visit()
    journey.enroll()
    late = journey.p.consent_date + days(60)
    with journey.on(dt.date(2026, 1, 13)), pytest.raises(ValidationError) as refused:
        services.first_infusion_plan(journey.p, planned_on=late, by=journey.by)
    errors, _ = _preview_warnings(journey, late, None)
    assert refused.value.message_dict["first_infusion_on"] == errors


def test_the_preview_command_warns_about_a_past_date_only_when_given_today(protocol):
    import io

    from django.core.management import call_command

    err = io.StringIO()
    call_command(
        "schedule_preview",
        "--consent",
        "2026-01-05",
        "--first-infusion",
        "2026-02-20",
        "--today",
        "2026-02-21",
        stdout=io.StringIO(),
        stderr=err,
    )
    assert "is in the past (today at the site: 2026-02-21)" in err.getvalue()
    quiet = io.StringIO()
    call_command(
        "schedule_preview",
        "--consent",
        "2026-01-05",
        "--first-infusion",
        "2026-02-20",
        stdout=io.StringIO(),
        stderr=quiet,
    )
    assert "in the past" not in quiet.getvalue()


def test_a_result_recorded_after_the_infusion_is_kept(journey):
    # The post-dose rule does not stand in the way of the normal flow.
    journey.to_treatment()
    obs = post_dose(journey.visit("INF1"))
    obs.refresh_from_db()
    assert obs.status == "done"
    with time_machine.travel(local(D0, 20, journey.tz), tick=False):
        record_result(
            obs, at=local(D0, 19, journey.tz), by=journey.by, result="6 h", reason="longer"
        )
    obs.refresh_from_db()
    assert obs.result == "6 h"
