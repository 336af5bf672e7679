"""Protocol deviations on the dashboard (issue 9): recording a visit out of its window asks the
coordinator to confirm first; the deviations page (filters, counts, CSV streamed and XLSX, never
another site's rows, a fixed number of queries); one deviation's page (describe, open, close with
the corrective action, withdraw); a visit's date corrected from the participant page withdraws the
draft; the participant page and the worklist list the deviations."""

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from schedule import services
from schedule.models import Deviation, DeviationStatus, Visit
from tests.support import NOW, PASSWORD, TODAY, consent, coordinator_at, days, frozen, visit

PAGE = "/deviations/"
# Session, user, profile, sites, the rows and their count, the filter's sites, the banner...
MAX_QUERIES = 14
SCR_WINDOW_END = dt.date(2026, 2, 15)  # consent 1 Feb: SCR window 1 to 15 Feb


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


@pytest.fixture
def p(protocol, site, coordinator):
    """Consented at S01 (New York) on 1 February 2026; SCR's window closed on 15 February."""
    with frozen():
        return consent(site, coordinator, dt.date(2026, 2, 1))


@pytest.fixture
def berlin(protocol, site2):
    """The same at S02, with SCR recorded late: a draft at the other site."""
    with frozen():
        other = consent(site2, coordinator_at(site2), dt.date(2026, 2, 1))
        services.visit_record_done(visit(other, "SCR"), actual_date=TODAY, by=coordinator_at(site2))
    return other


@pytest.fixture
def late(p, coordinator):
    """p's SCR recorded on 17 Feb, 2 days after its window closed: one draft."""
    with frozen():
        services.visit_record_done(
            visit(p, "SCR"), actual_date=SCR_WINDOW_END + days(2), by=coordinator
        )
    return Deviation.objects.get(participant=p)


@pytest.fixture
def logged_in(client, coordinator):
    client.force_login(coordinator)
    return client


def get(client, url) -> str:
    with frozen():
        response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def post(client, url, data):
    with frozen():
        return client.post(url, data)


# --- Before it happens, say so -------------------------------------------------------------------


def test_a_visit_recorded_after_its_window_asks_to_confirm_and_saves_nothing_until_then(
    logged_in, p
):
    url = reverse("dashboard:visit_done", args=[visit(p, "SCR").pk])

    response = post(logged_in, url, {"actual_date": "2026-02-17"})

    assert response.status_code == 200
    html = response.content.decode()
    assert field_error(html, "confirm_out_of_window") == (
        "This date is 2 days after the window closed (2026-02-15); a deviation will be drafted."
    )
    assert "Record it on this date, outside its window" in html
    assert visit(p, "SCR").status == "scheduled"
    assert not Deviation.objects.exists()

    confirmed = post(logged_in, url, {"actual_date": "2026-02-17", "confirm_out_of_window": "on"})

    assert confirmed.status_code == 302
    scr = visit(p, "SCR")
    assert (scr.status, scr.actual_date, scr.in_window) == ("done", dt.date(2026, 2, 17), False)
    [deviation] = Deviation.objects.all()
    assert deviation.visit == scr and deviation.status == DeviationStatus.DRAFT


def test_the_last_day_of_the_window_is_recorded_without_a_question(logged_in, p):
    url = reverse("dashboard:visit_done", args=[visit(p, "SCR").pk])

    assert "Record it on this date" not in get(logged_in, url)
    response = post(logged_in, url, {"actual_date": SCR_WINDOW_END.isoformat()})

    assert response.status_code == 302
    assert visit(p, "SCR").in_window is True
    assert not Deviation.objects.exists()


def test_the_admin_asks_the_same_question(client, p, coordinator):
    coordinator.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["participants", "schedule"])
    )
    client.force_login(coordinator)
    url = reverse("admin:schedule_visit_done", args=[visit(p, "SCR").pk])

    response = post(client, url, {"actual_date": "2026-02-16"})

    assert "This date is 1 day after the window closed" in response.content.decode()
    assert visit(p, "SCR").status == "scheduled"


# --- The deviations page -------------------------------------------------------------------------


def test_the_page_lists_the_sites_deviations_with_counts_and_never_another_sites(
    logged_in, late, berlin
):
    html = get(logged_in, PAGE)

    assert late.reference in html
    assert berlin.label not in html
    other = Deviation.objects.get(participant=berlin)
    assert other.reference not in html
    assert re.search(r'data-count="draft">1<', html)
    assert re.search(r'data-count="important">0<', html)


def test_the_filters_narrow_the_rows(logged_in, late):
    assert late.reference in get(logged_in, PAGE + "?status=draft&category=visit_out_of_window")
    assert late.reference in get(logged_in, PAGE + "?month=2026-02&site=S01")
    assert late.reference not in get(logged_in, PAGE + "?month=2026-03")
    assert late.reference not in get(logged_in, PAGE + "?importance=important")
    assert late.reference not in get(logged_in, PAGE + "?status=closed")


def test_a_month_that_is_not_one_is_refused_under_its_filter(logged_in, late):
    html = get(logged_in, PAGE + "?month=2026-13")

    assert "Enter a month as YYYY-MM" in html
    assert late.reference not in html


def test_another_sites_code_is_not_a_choice_of_the_site_filter(logged_in, late, berlin):
    html = get(logged_in, PAGE + "?site=S02")

    assert late.reference not in html
    assert "Select a valid choice" in html


def test_the_csv_is_streamed_escaped_and_holds_no_other_sites_rows(
    logged_in, late, berlin, coordinator
):
    with frozen():
        services.deviation_edit(late, by=coordinator, description='=HYPERLINK("x")')
        response = logged_in.get(PAGE + "?_export=csv")

    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["Deviation"] for r in rows] == [late.reference]
    assert rows[0]["Participant"] == late.participant.label
    assert rows[0]["Description"] == '\'=HYPERLINK("x")'
    assert rows[0]["Occurred"] == "2026-02-17"
    assert rows[0]["Why (not) important"].startswith("SCR done on 2026-02-17")
    assert berlin.label not in str(rows)


def test_the_xlsx_holds_every_filtered_row_of_the_users_sites_only(logged_in, late, berlin):
    with frozen():
        response = logged_in.get(PAGE + "?_export=xlsx")

    body = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Deviation"
    assert [row[0] for row in values[1:]] == [late.reference]
    assert berlin.label not in str(values)


def test_a_study_manager_sees_every_site_and_no_buttons(client, manager, late, berlin):
    client.force_login(manager)

    html = get(client, PAGE)
    detail = get(client, reverse("dashboard:deviation", args=[late.pk]))

    assert late.reference in html and Deviation.objects.get(participant=berlin).reference in html
    assert "Open the deviation" not in detail
    response = post(
        client, reverse("dashboard:deviation_action", args=[late.pk, "edit"]), {"description": "x"}
    )
    assert response.status_code == 403


def test_another_sites_deviation_is_a_404(logged_in, berlin):
    other = Deviation.objects.get(participant=berlin)

    with frozen():
        assert logged_in.get(reverse("dashboard:deviation", args=[other.pk])).status_code == 404
        url = reverse("dashboard:deviation_action", args=[other.pk, "withdraw"])
        assert logged_in.post(url, {"reason": "mine now"}).status_code == 404
    assert Deviation.objects.get(pk=other.pk).status == DeviationStatus.DRAFT


def test_the_page_and_its_downloads_make_the_same_few_queries_for_one_deviation_or_many(
    logged_in, coordinator, site, late, django_assert_max_num_queries
):
    urls = [
        PAGE,
        PAGE + "?status=draft&month=2026-02",
        PAGE + "?_export=csv",
        PAGE + "?_export=xlsx",
        reverse("dashboard:deviation", args=[late.pk]),
        reverse("dashboard:participant", args=[late.participant_id]),
    ]

    def queries() -> dict:
        counted = {}
        for url in urls:
            with (
                CaptureQueriesContext(connection) as ctx,
                django_assert_max_num_queries(MAX_QUERIES),
                frozen(),
            ):
                response = logged_in.get(url)
                if response.streaming:  # a streamed download reads its rows while it is sent
                    b"".join(response.streaming_content)
            assert response.status_code == 200, url
            counted[url] = len(ctx.captured_queries)
        return counted

    one = queries()
    with frozen():
        for n in range(6):
            other = consent(site, coordinator, dt.date(2026, 2, 1), screening_number=f"Q-{n:04d}")
            services.visit_record_done(visit(other, "SCR"), actual_date=TODAY, by=coordinator)
    assert Deviation.objects.count() == 7
    assert queries() == one


# --- One deviation: describe, open, close, withdraw ----------------------------------------------


def action_url(deviation, slug):
    return reverse("dashboard:deviation_action", args=[deviation.pk, slug])


def edit_form(deviation, **changes) -> dict:
    return {
        "description": deviation.description,
        "importance": deviation.importance,
        "importance_reason": deviation.importance_reason,
        "corrective_action": deviation.corrective_action,
        "preventive_action": deviation.preventive_action,
        **changes,
    }


def test_a_coordinator_describes_opens_and_closes_a_draft(logged_in, late):
    described = post(
        logged_in, action_url(late, "edit"), edit_form(late, description="Participant had flu.")
    )
    assert described.status_code == 302
    refused = post(logged_in, action_url(late, "open"), {})  # described: opens
    assert refused.status_code == 302
    late.refresh_from_db()
    assert late.status == DeviationStatus.OPEN

    no_action = post(logged_in, action_url(late, "close"), {"corrective_action": ""})
    assert no_action.status_code == 200
    assert field_error(no_action.content.decode(), "corrective_action") == "This field is required."
    assert Deviation.objects.get(pk=late.pk).status == DeviationStatus.OPEN

    closed = post(
        logged_in, action_url(late, "close"), {"corrective_action": "Reminder calls added."}
    )
    assert closed.status_code == 302
    late.refresh_from_db()
    assert (late.status, late.corrective_action) == (
        DeviationStatus.CLOSED,
        "Reminder calls added.",
    )
    html = get(logged_in, reverse("dashboard:deviation", args=[late.pk]))
    assert "Close the deviation" not in html and "Reminder calls added." in html


def test_opening_an_undescribed_draft_is_refused_under_the_description(logged_in, late):
    response = post(logged_in, action_url(late, "open"), {})

    assert response.status_code == 200
    assert "Describe the deviation" in response.content.decode()
    assert Deviation.objects.get(pk=late.pk).status == DeviationStatus.DRAFT


def test_editing_an_open_deviation_asks_for_the_reason_and_an_unchanged_save_writes_nothing(
    logged_in, late, coordinator
):
    with frozen():
        services.deviation_edit(late, by=coordinator, description="Flu.")
        services.deviation_open(late, by=coordinator)
    late.refresh_from_db()
    rows = late.history.count()

    no_reason = post(logged_in, action_url(late, "edit"), edit_form(late, description="Flu, 39°C."))
    assert field_error(no_reason.content.decode(), "reason").startswith("Give the reason")

    unchanged = post(logged_in, action_url(late, "edit"), edit_form(late))
    assert unchanged.status_code == 302
    assert late.history.count() == rows

    changed = post(
        logged_in,
        action_url(late, "edit"),
        edit_form(late, description="Flu, 39°C.", reason="Temperature from the source notes"),
    )
    assert changed.status_code == 302
    assert late.history.latest().history_change_reason == "Temperature from the source notes"
    assert late.history.count() == rows + 1


def test_withdrawing_keeps_the_reason(logged_in, late):
    response = post(logged_in, action_url(late, "withdraw"), {"reason": "Sponsor's note to file"})

    assert response.status_code == 302
    late.refresh_from_db()
    assert (late.status, late.withdrawn_reason) == ("withdrawn", "Sponsor's note to file")


# --- Correcting the date, the participant page and the worklist ----------------------------------


def test_a_date_corrected_into_the_window_from_the_participant_page_withdraws_the_draft(
    logged_in, p, late
):
    scr = visit(p, "SCR")
    page = get(logged_in, reverse("dashboard:participant", args=[p.pk]))
    correct_url = reverse("dashboard:visit_correct_date", args=[scr.pk])
    assert late.reference in page and correct_url in page

    response = post(
        logged_in, correct_url, {"actual_date": "2026-02-15", "reason": "Clinic log: 15 Feb"}
    )

    assert response.status_code == 302
    late.refresh_from_db()
    assert late.status == DeviationStatus.WITHDRAWN
    assert "corrected to 2026-02-15, within its window" in late.withdrawn_reason
    assert Visit.objects.get(pk=scr.pk).in_window is True


def test_a_correction_without_a_reason_is_refused_under_its_field(logged_in, p, late):
    url = reverse("dashboard:visit_correct_date", args=[visit(p, "SCR").pk])

    response = post(logged_in, url, {"actual_date": "2026-02-15", "reason": ""})

    assert field_error(response.content.decode(), "reason") == "This field is required."
    assert visit(p, "SCR").actual_date == SCR_WINDOW_END + days(2)


def test_the_worklist_shows_drafts_waiting_for_a_description_with_a_link(logged_in, late):
    html = get(logged_in, "/")

    assert re.search(r'data-count="deviation_drafts">1<', html)
    assert reverse("dashboard:deviation", args=[late.pk]) in html
    assert "/deviations/?to_describe=on" in html


def test_a_described_draft_leaves_the_worklist(logged_in, late, coordinator):
    with frozen():
        services.deviation_edit(late, by=coordinator, description="Flu.")

    assert re.search(r'data-count="deviation_drafts">0<', get(logged_in, "/"))


def test_the_drafts_on_the_worklist_are_capped_with_the_full_count(
    logged_in, site, coordinator, monkeypatch
):
    from dashboard.views import deviations as deviation_views

    monkeypatch.setattr(deviation_views, "WORKLIST_ROWS", 2)
    with frozen():
        for n in range(3):
            other = consent(site, coordinator, dt.date(2026, 2, 1), screening_number=f"W-{n:04d}")
            services.visit_record_done(visit(other, "SCR"), actual_date=TODAY, by=coordinator)

    html = get(logged_in, "/")

    assert "Showing the first 2 of 3." in html
    assert NOW  # time frozen at NOW throughout


def test_an_investigator_signs_to_close_an_important_deviation_on_its_page(
    client, late, coordinator, investigator
):
    with frozen():
        services.deviation_edit(late, by=coordinator, description="Flu.")
        services.deviation_open(late, by=coordinator)
        services.deviation_edit(
            late,
            by=coordinator,
            reason="Eligibility labs drawn late",
            importance="important",
            importance_reason="Eligibility labs out of window",
        )
    client.force_login(investigator)
    page = get(client, reverse("dashboard:deviation", args=[late.pk]))
    assert "Sign and close the deviation" in page and "deviation reviewed" in page

    wrong = post(
        client, action_url(late, "close"), {"corrective_action": "Redrawn.", "password": "nope"}
    )
    assert field_error(wrong.content.decode(), "password").startswith("That is not your password")
    assert Deviation.objects.get(pk=late.pk).status == DeviationStatus.OPEN

    signed = post(
        client, action_url(late, "close"), {"corrective_action": "Redrawn.", "password": PASSWORD}
    )
    assert signed.status_code == 302
    html = get(client, reverse("dashboard:deviation", args=[late.pk]))
    assert f"{investigator.get_username()}, “deviation reviewed”" in html
    assert "UTC" in html and "(site time)" in html


def test_an_unknown_step_is_a_404_and_a_get_of_a_step_is_refused(logged_in, late):
    assert post(logged_in, action_url(late, "delete"), {}).status_code == 404
    with frozen():
        assert logged_in.get(action_url(late, "withdraw")).status_code == 405
    assert Deviation.objects.get(pk=late.pk).status == DeviationStatus.DRAFT


def test_a_report_to_the_irb_needs_its_time_too(logged_in, late):
    response = post(
        logged_in, action_url(late, "edit"), edit_form(late, reported_to_irb_on="2026-03-01")
    )

    assert field_error(response.content.decode(), "reported_to_irb_time") == (
        "Enter the time it was reported."
    )
    assert Deviation.objects.get(pk=late.pk).reported_to_irb_at is None


def test_a_report_to_the_irb_is_entered_in_site_time(logged_in, late, site):
    response = post(
        logged_in,
        action_url(late, "edit"),
        edit_form(late, reported_to_irb_on="2026-03-09", reported_to_irb_time="16:30"),
    )

    assert response.status_code == 302
    reported = Deviation.objects.get(pk=late.pk).reported_to_irb_at
    assert reported == dt.datetime(2026, 3, 9, 20, 30, tzinfo=dt.UTC)  # EDT (UTC-4) since 8 March
