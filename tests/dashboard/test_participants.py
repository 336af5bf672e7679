"""The participants table: columns, filters, sorting, and CSV/XLSX downloads filtered as shown."""

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse

from dashboard import selectors
from participants.models import Status
from tests.support import NOW, consent, enrolled, frozen, worklist_scenario
from tests.support import response_body as body

URL = "/participants/"


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def csv_rows(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(body(response).decode())))


def test_rows_carry_next_visit_window_and_safety_counts(coordinator, data):
    with frozen():
        rows = {p.label: p for p in selectors.participant_rows(coordinator, NOW)}
    late = rows[data["late"].label]
    assert late.next_visit_code == "SCR"
    assert (late.next_window_start, late.next_window_end) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 15),
    )
    # SCR's six safety items (overdue) and APH's four (window open since 16 Feb, not yet due).
    assert (late.open_safety, late.overdue_safety) == (10, 6)
    due = rows[data["due"].label]
    assert (due.open_safety, due.overdue_safety) == (6, 0)
    coming = rows[data["coming"].label]
    # APH (target 14 Mar, -13/+10) opened on 1 Mar: its four safety items are open, none overdue.
    assert (coming.next_visit_code, coming.open_safety, coming.overdue_safety) == ("APH", 4, 0)
    assert data["berlin"].label not in rows


def test_csv_download_has_the_columns_shown(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        rows = csv_rows(client.get(URL + "?_export=csv"))
    by_id = {r["Study id"]: r for r in rows}
    assert set(by_id) == {data[k].label for k in ("due", "closing", "late", "coming")}
    late = by_id[data["late"].label]
    assert late["Site"] == "S01"
    assert late["Status"] == "Screening"
    assert late["Phase and progress"] == "screening week 6/8"
    assert late["Next visit"] == "SCR 2026-02-01"
    assert late["Days to window end"] == "-23"
    assert late["Overdue safety items"] == "6"


def test_filters_apply_to_page_and_download(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        overdue = csv_rows(client.get(URL + "?overdue=on&_export=csv"))
        enrolled_only = csv_rows(client.get(URL + "?status=enrolled&_export=csv"))
        html = client.get(URL + "?overdue=on").content.decode()
    assert [r["Study id"] for r in overdue] == [data["late"].label]
    assert [r["Study id"] for r in enrolled_only] == [data["coming"].label]
    assert data["late"].label in html and data["due"].label not in html


def test_site_and_phase_filters(client, manager, data):
    client.force_login(manager)
    with frozen():
        s02 = csv_rows(client.get(URL + "?site=S02&_export=csv"))
        screening = csv_rows(client.get(URL + "?phase=screening&site=S01&_export=csv"))
    assert [r["Study id"] for r in s02] == [data["berlin"].label]
    assert len(screening) == 4


def test_sorting_by_days_to_window_end(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        rows = csv_rows(client.get(URL + "?sort=days_left&_export=csv"))
    days = [int(r["Days to window end"]) for r in rows]
    assert days == sorted(days)
    assert rows[0]["Study id"] == data["late"].label


def test_xlsx_download_opens_as_a_workbook(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        response = client.get(URL + "?status=screening&_export=xlsx")
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    values = list(sheet.values)
    assert values[0][0] == "Study id"
    assert sorted(v[0] for v in values[1:]) == sorted(
        data[k].label for k in ("due", "closing", "late")
    )


def test_progress_in_treatment_counts_infusions(coordinator, investigator, site, protocol):
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 1), d0=dt.date(2026, 3, 20))
        p.status, p.phase, p.infusions_received = Status.IN_TREATMENT, "treatment", 3
        assert selectors.phase_progress(p, dt.date(2026, 3, 10)).text == "treatment 3/6 infusions"
        fresh = consent(site, coordinator, dt.date(2026, 3, 10))
        progress = selectors.phase_progress(fresh, dt.date(2026, 3, 10))
    assert progress.text == "screening week 1/8" and progress.screening == 0


def test_page_is_sortable_and_filterable_in_html(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()
    assert "?sort=days_left" in html  # sortable column header
    for name in ("site", "status", "phase", "overdue"):
        assert f'name="{name}"' in html
    assert reverse("dashboard:participant", args=[data["late"].pk]) in html


def test_infusion_count_comes_from_the_protocol(coordinator, investigator, site, protocol):
    from schedule.models import VisitDefinition, VisitKind

    defined = VisitDefinition.objects.filter(
        protocol=protocol, kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
    ).count()
    with frozen():
        p = enrolled(site, coordinator, investigator, dt.date(2026, 2, 1), d0=dt.date(2026, 3, 20))
        row = selectors.participant_rows(coordinator).get(pk=p.pk)
        page = selectors.participant_page(coordinator, p.pk)
    assert row.infusion_count == defined and page.participant.infusion_count == defined
    # An amended protocol with fewer infusions: the progress follows it, not a fixed 6.
    row.status, row.phase, row.infusions_received = Status.IN_TREATMENT, "treatment", 3
    row.infusion_count = 4
    progress = selectors.phase_progress(row, dt.date(2026, 3, 10))
    assert progress.text == "treatment 3/4 infusions" and progress.treatment == 0.75
    assert progress.infusions == 4


def test_closing_soon_highlight_uses_the_worklist_horizon(monkeypatch):
    from dashboard.tables import base as tables

    n = selectors.CLOSING_SOON_DAYS
    assert 'class="soon"' in tables.days_left_html(n)
    assert 'class=""' in tables.days_left_html(n + 1)
    assert 'class="late"' in tables.days_left_html(-1)
    monkeypatch.setattr(tables, "CLOSING_SOON_DAYS", n + 2)
    assert 'class="soon"' in tables.days_left_html(n + 2)
