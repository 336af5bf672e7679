"""The worklist at /: what is due today, windows closing, overdue safety items, the next 7 days."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from dashboard import selectors
from schedule import services
from tests.support import (
    NOW,
    TODAY,
    consent,
    coordinator_at,
    enrolled,
    frozen,
    visit,
    worklist_scenario,
)


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def codes(visits):
    return sorted((v.participant.label, v.definition.code) for v in visits)


def test_each_visit_lands_in_its_section(coordinator, data):
    with frozen():
        work = selectors.worklist(coordinator, NOW)
    late, closing, due, coming = (data[k].label for k in ("late", "closing", "due", "coming"))
    assert codes(work.due_today) == [(due, "SCR")]
    # SCR of "closing" ends 12 Mar; APH of "late" (target 1 Mar, -13/+10) ends 11 Mar.
    assert codes(work.closing_soon) == sorted([(closing, "SCR"), (late, "APH")])
    assert codes(work.overdue_visits) == [(late, "SCR")]
    assert codes(work.coming_up) == [(data["coming"].label, "APH")]
    assert coming not in {v.participant.label for v in work.due_today}
    overdue = {(a.visit.participant.label, a.definition.code) for a in work.overdue_safety}
    assert overdue == {(late, c) for c in ("VS", "CBC", "CHEM", "IGG", "PREG", "AE")}


def test_visit_due_today_is_not_listed_again_under_closing(coordinator, investigator, site, data):
    with frozen():
        # INF1's window is the day itself: due today and closing today.
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 20), d0=TODAY)
        work = selectors.worklist(coordinator, NOW)
    assert (p.label, "INF1") in codes(work.due_today)
    assert p.label not in {v.participant.label for v in work.closing_soon}


def test_worklist_page_shows_counts_and_one_click_links(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        html = client.get("/").content.decode()
    assert 'data-count="overdue_safety">6<' in html
    assert 'data-count="due_today">1<' in html
    assert 'data-count="closing_soon">2<' in html
    scr = visit(data["due"], "SCR")
    assert reverse("dashboard:visit_done", args=[scr.pk]) + "?next=%2F" in html
    vs = visit(data["late"], "SCR").assessments.get(definition__code="VS")
    assert reverse("dashboard:assessment_record", args=[vs.pk]) + "?next=%2F" in html


def test_recording_an_overdue_item_takes_it_off_the_worklist(client, coordinator, data):
    client.force_login(coordinator)
    vs = visit(data["late"], "SCR").assessments.get(definition__code="VS")
    with frozen():
        response = client.post(
            reverse("dashboard:assessment_record", args=[vs.pk]) + "?next=/",
            {
                "result": "normal",
                "completed_on": "2026-03-10",
                "completed_time": "09:30",
                "next": "/",
            },
        )
        assert response.status_code == 302 and response["Location"] == "/"
        html = client.get("/").content.decode()
    assert 'data-count="overdue_safety">5<' in html
    vs.refresh_from_db()
    assert vs.status == "done" and vs.result == "normal"


def test_worklist_sections_download_as_csv(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        response = client.get("/?_export=csv&_table=overdue_safety")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["Participant", "Site", "Visit", "Safety assessment"]
    assert len(rows) == 1 + 6
    assert {r[0] for r in rows[1:]} == {data["late"].label}


def test_today_is_each_sites_own_date(manager, coordinator, site, site2, protocol):
    """At 23:30 UTC it is still 10 March in New York but already 11 March in Berlin."""
    late_evening = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    with frozen(late_evening):
        new_york = consent(site, coordinator, dt.date(2026, 3, 10))
        berlin = services.participant_consent(
            site=site2,
            by=coordinator_at(site2),
            consent_at=dt.datetime(2026, 3, 11, 0, 10, tzinfo=site2.tz),
            consent_form_version="ICF v2.0",
            age_at_consent=40,
        )
        work = selectors.worklist(manager, late_evening)
    assert codes(work.due_today) == sorted([(new_york.label, "SCR"), (berlin.label, "SCR")])
    assert work.today_by_site == {site.pk: dt.date(2026, 3, 10), site2.pk: dt.date(2026, 3, 11)}


def test_coming_up_offers_no_record_link_before_the_window_opens(
    client, coordinator, investigator, site, data
):
    """EOT is targeted 6 days ahead with a ±3-day window: listed under "Next 7 days" but not
    recordable yet, so the row says when its window opens instead of offering "Record EOT"
    (the same rule the participant page and the service refuse on)."""
    with frozen():
        d0 = TODAY - dt.timedelta(days=44)
        p = enrolled(site, coordinator, investigator, d0 - dt.timedelta(days=40), d0=d0)
        eot = visit(p, "EOT")
        assert (p.label, "EOT") in codes(selectors.worklist(coordinator, NOW).coming_up)
        client.force_login(coordinator)
        html = client.get("/").content.decode()
    assert reverse("dashboard:visit_done", args=[eot.pk]) not in html
    assert f"window opens {eot.window_start:%Y-%m-%d}" in html
    # The APH of "coming" (window open since 1 Mar) keeps its one-click link.
    aph = visit(data["coming"], "APH")
    assert reverse("dashboard:visit_done", args=[aph.pk]) in html
