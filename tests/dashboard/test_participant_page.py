"""The participant page: timeline, assessments, history, and the forms that call the services.
Bad input shows the service's message next to its field and saves nothing."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from participants.models import Status
from schedule.models import AssessmentStatus, VisitStatus
from tests.support import PASSWORD, TODAY, all_met, complete_visit, consent, enrolled, frozen, visit


@pytest.fixture
def logged_in(client, coordinator):
    client.force_login(coordinator)
    return client


def field_error(html: str, field: str) -> str:
    """The error shown right after the field `field` (its id_<field>_error paragraph)."""
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


def page(client, p):
    return client.get(reverse("dashboard:participant", args=[p.pk])).content.decode()


def test_timeline_shows_windows_study_days_overdue_and_history(
    logged_in, coordinator, investigator, site, protocol, settings
):
    settings.STUDY_DAY_LABEL = "cdisc"
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 1), d0=dt.date(2026, 3, 12))
        html = page(logged_in, p)
    assert "Visit timeline" in html and "Status history" in html
    # INF2 is 7 days after D0: "Day 8" in the CDISC convention (D0 is Day 1).
    inf2 = visit(p, "INF2")
    row = html[html.index(f'id="visit-{inf2.pk}"') :]
    assert "Day 8" in row[: row.index("</tr>")]
    assert "2026-03-17 – 2026-03-21" in row[: row.index("</tr>")]
    # APH (target 1 Mar, window to 11 Mar) is open; SCR was done in window.
    assert "in window" in html
    assert "Enrolled" in html and "Screening" in html
    assert reverse("dashboard:participant_action", args=[p.pk, "withdraw"]) in html
    assert reverse("dashboard:participant_action", args=[p.pk, "plan-infusion"]) in html
    assert reverse("dashboard:participant_action", args=[p.pk, "enroll"]) not in html


def test_overdue_visit_is_marked(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 2, 1))
        html = page(logged_in, p)
    assert "status-overdue" in html and "window closed 2026-02-15" in html
    assert "chip-overdue" in html


def test_record_visit_done_through_the_form(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        scr = visit(p, "SCR")
        url = reverse("dashboard:visit_done", args=[scr.pk])
        form = logged_in.get(url).content.decode()
        assert 'value="2026-03-10"' in form  # defaults to today at the site
        response = logged_in.post(url, {"actual_date": "2026-03-09"})
    assert response.status_code == 302
    scr.refresh_from_db()
    assert (scr.status, scr.actual_date, scr.in_window) == ("done", dt.date(2026, 3, 9), True)


def test_future_visit_date_is_refused_next_to_the_field(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        scr = visit(p, "SCR")
        response = logged_in.post(
            reverse("dashboard:visit_done", args=[scr.pk]), {"actual_date": "2026-03-11"}
        )
    assert response.status_code == 200
    assert field_error(response.content.decode(), "actual_date") == "2026-03-11 is in the future."
    scr.refresh_from_db()
    assert scr.status == VisitStatus.SCHEDULED


def test_apheresis_needs_product_and_collection_answer(
    logged_in, coordinator, investigator, site, protocol
):
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 14))
        aph = visit(p, "APH")
        url = reverse("dashboard:visit_done", args=[aph.pk])
        response = logged_in.post(url, {"actual_date": "2026-03-09"})
        html = response.content.decode()
        assert field_error(html, "product_id") == "This field is required."
        ok = logged_in.post(
            url, {"actual_date": "2026-03-09", "product_id": "PRD-1", "adequate_collection": "yes"}
        )
    assert ok.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.APHERESIS_DONE


def test_infusion_without_pre_dose_results_is_refused_whole(
    logged_in, coordinator, investigator, site, protocol
):
    with frozen(dt.datetime(2026, 3, 10, 20, tzinfo=dt.UTC)):
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 1), d0=TODAY)
        complete_visit(
            visit(p, "APH"),
            dt.date(2026, 2, 20),
            coordinator,
            product_id="PRD-9",
            adequate_collection=True,
        )
        inf1 = visit(p, "INF1")
        response = logged_in.post(
            reverse("dashboard:visit_done", args=[inf1.pk]),
            {"actual_date": "2026-03-10", "started_time": "09:00", "dose": "1x10^8", "lot": "L1"},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "cannot be recorded as given. Pre-dose safety items: VS_PRE not recorded" in html
    p.refresh_from_db()
    inf1.refresh_from_db()
    assert p.status == Status.APHERESIS_DONE and inf1.status == VisitStatus.SCHEDULED
    assert p.status_changes.filter(to_status=Status.IN_TREATMENT).count() == 0


def test_record_assessment_and_refuse_a_future_time(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        cbc = visit(p, "SCR").assessments.get(definition__code="CHEM")
        url = reverse("dashboard:assessment_record", args=[cbc.pk])
        form = logged_in.get(url).content.decode()
        assert "end of 2026-03-16 (site time)" in form  # SCR window 2-16 Mar, New York
        bad = logged_in.post(
            url,
            {
                "result": "Creatinine 2.1 mg/dL",
                "completed_on": "2026-03-10",
                "completed_time": "23:00",
            },
        )
        assert (
            field_error(bad.content.decode(), "completed_time")
            == "The result time is in the future."
        )
        cbc.refresh_from_db()
        assert cbc.status == AssessmentStatus.PENDING
        empty = logged_in.post(
            url, {"result": "", "completed_on": "2026-03-10", "completed_time": "09:00"}
        )
        assert "Enter the result" in field_error(empty.content.decode(), "result")
        ok = logged_in.post(
            url,
            {
                "result": "Creatinine 2.1 mg/dL",
                "is_abnormal": "on",
                "completed_on": "2026-03-10",
                "completed_time": "09:00",
            },
        )
    assert ok.status_code == 302
    cbc.refresh_from_db()
    assert (cbc.status, cbc.result, cbc.is_abnormal) == ("done", "Creatinine 2.1 mg/dL", True)
    # 09:00 was entered in New York time.
    assert cbc.completed_at == dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC)


def test_withdrawal_through_the_form(logged_in, coordinator, investigator, site, protocol):
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 14))
        url = reverse("dashboard:participant_action", args=[p.pk, "withdraw"])
        bad = logged_in.post(
            url, {"on": "2026-03-10", "reason": " ", "safety_follow_up_continues": "yes"}
        )
        assert "This field is required." in field_error(bad.content.decode(), "reason")
        # The category the reports count is asked for as well as the note.
        assert "This field is required." in field_error(bad.content.decode(), "reason_code")
        ok = logged_in.post(
            url,
            {
                "on": "2026-03-10",
                "reason_code": "consent_withdrawn",
                "reason": "Moved abroad",
                "safety_follow_up_continues": "no",
            },
        )
        assert ok.status_code == 302
        html = page(logged_in, p)
    p.refresh_from_db()
    assert p.status == Status.WITHDRAWN and p.safety_follow_up_continues is False
    assert "Moved abroad" in html and "ET" in html
    # The history shows the category the reports count beside the note.
    assert "Consent withdrawn by the participant</td>" in html


def test_enroll_requires_investigator_and_all_answers(
    logged_in, client, coordinator, investigator, site, protocol
):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        url = reverse("dashboard:participant_action", args=[p.pk, "enroll"])
        answers = {f"crit_{c}": "yes" if v else "no" for c, v in all_met().items()}
        signed = {**answers, "password": PASSWORD}
        # A coordinator's checklist is kept as a draft for the investigator, never signed.
        by_coordinator = logged_in.post(url, {**answers, "assessed_on": "2026-03-09"})
        assert by_coordinator.status_code == 302
        p.refresh_from_db()
        assert p.status == Status.SCREENING and p.eligibility.signed_at is None

        client.force_login(investigator)
        missing = dict(signed)
        missing.pop("crit_IN_AGE")
        bad = client.post(url, {**missing, "assessed_on": "2026-03-09"})
        assert field_error(bad.content.decode(), "crit_IN_AGE") == "Answer this criterion."
        not_eligible = client.post(
            url, {**signed, "crit_EX_PREG": "yes", "assessed_on": "2026-03-09"}
        )
        assert "Not eligible, enrollment refused: EX_PREG applies" in not_eligible.content.decode()
        p.refresh_from_db()
        assert p.status == Status.SCREENING and p.study_id is None
        ok = client.post(url, {**signed, "assessed_on": "2026-03-09"})
    assert ok.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.ENROLLED and p.study_id == "S01-001"
    assert p.eligibility.signed_by == investigator


def test_plan_infusion_beyond_59_days_is_refused_next_to_the_date(
    logged_in, coordinator, investigator, site, protocol
):
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 14))
        url = reverse("dashboard:participant_action", args=[p.pk, "plan-infusion"])
        bad = logged_in.post(url, {"planned_on": "2026-04-20"})
        assert "the protocol allows at most 59" in field_error(bad.content.decode(), "planned_on")
        assert not p.visits.filter(definition__code="INF1").exists()
        ok = logged_in.post(url, {"planned_on": "2026-03-30"})
    assert ok.status_code == 302
    assert p.visits.filter(definition__code="INF1", target_date=dt.date(2026, 3, 30)).exists()


def test_action_not_allowed_now_is_explained(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        response = logged_in.get(
            reverse("dashboard:participant_action", args=[p.pk, "stop-treatment"]), follow=True
        )
    assert "Stop treatment early is not possible while" in response.content.decode()


def test_timeline_downloads_as_csv(logged_in, coordinator, site, protocol):
    with frozen():
        p = consent(site, coordinator, dt.date(2026, 2, 1))
        response = logged_in.get(reverse("dashboard:participant", args=[p.pk]) + "?_export=csv")
        history = logged_in.get(
            reverse("dashboard:participant", args=[p.pk]) + "?_export=csv&_table=history"
        )
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("Visit,Study day,Target,Window,Actual date,Status")
    assert lines[1].startswith("SCR,,2026-02-01,2026-02-01 – 2026-02-15,,Overdue")
    assert "Screening" in history.content.decode()


def test_record_visit_missed_needs_a_reason(logged_in, coordinator, investigator, site, protocol):
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 14))
        aph = visit(p, "APH")
        url = reverse("dashboard:visit_missed", args=[aph.pk])
        bad = logged_in.post(url, {"reason": ""})
        assert field_error(bad.content.decode(), "reason") == "This field is required."
        ok = logged_in.post(url, {"reason": "Participant was ill"})
    assert ok.status_code == 302
    aph.refresh_from_db()
    assert aph.status == VisitStatus.MISSED
    assert set(aph.assessments.values_list("status", flat=True)) == {AssessmentStatus.MISSED}
