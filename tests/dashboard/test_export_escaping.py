"""Downloads that cannot run code (OWASP CSV injection): text a spreadsheet would read as a formula
(= + - @, tab, carriage return first) is written with a leading quote, in CSV and in XLSX, by every
table download and by `schedule_preview --format csv`; numbers and dates stay what they are."""

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from participants.spreadsheets import spreadsheet_cell
from safety.services import adverse_events as ae
from schedule import services
from schedule.preview import schedule_preview
from schedule.protocols.v1 import PROTOCOL
from tests.support import TODAY, consent, days, frozen

HYPERLINK = '=HYPERLINK("http://evil.example/","Click me")'
FORMULAS = [HYPERLINK, "+1+2", "-3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_that_starts_a_formula_is_quoted(text):
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", [-3, 0, 12, Decimal("-1.5"), dt.date(2026, 3, 10), None, True, "S01-S001", ""]
)
def test_numbers_dates_and_plain_text_are_left_alone(value):
    assert spreadsheet_cell(value) == value


def test_control_characters_an_xlsx_cannot_hold_are_replaced():
    assert spreadsheet_cell("a\x01b\x1fc") == "a\ufffdb\ufffdc"
    assert spreadsheet_cell("line 1\nline 2\ttab") == "line 1\nline 2\ttab"


def _download(client, p, export_format):
    url = reverse("dashboard:participant", args=[p.pk])
    response = client.get(url, {"_export": export_format, "_table": "history"})
    assert response.status_code == 200
    return response.content


def _csv_column(content: bytes, header: str) -> list[str]:
    return [row[header] for row in csv.DictReader(io.StringIO(content.decode("utf-8-sig")))]


def _xlsx_column(content: bytes, header: str) -> list:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows())
    column = [cell.value for cell in rows[0]].index(header)
    return [row[column] for row in rows[1:]]


@pytest.mark.parametrize("reason", FORMULAS)
def test_a_reason_in_the_history_download_is_text(client, coordinator, site, protocol, reason):
    client.force_login(coordinator)
    with frozen():
        p = consent(site, coordinator, TODAY - days(3))
        services.participant_withdraw(
            p,
            on=TODAY,
            reason=reason,
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
        reasons = _csv_column(_download(client, p, "csv"), "Reason")
        cells = _xlsx_column(_download(client, p, "xlsx"), "Reason")
    assert "'" + reason in reasons
    withdrawal = next(cell for cell in cells if cell.value)
    # (XML reads a carriage return back as a newline.)
    assert withdrawal.data_type == "s" and withdrawal.value == "'" + reason.replace("\r", "\n")


def test_the_adverse_event_listing_download_keeps_numbers_and_quotes_text(
    client, coordinator, site, protocol
):
    client.force_login(coordinator)
    with frozen():
        p = consent(site, coordinator, TODAY - days(10))
        ae.ae_record(
            p,
            by=coordinator,
            term=HYPERLINK,
            onset_date=TODAY - days(2),
            grade=2,
            related_to_product="possible",
            related_to_leukapheresis="not_related",
            action_taken="none",
            outcome="not_recovered",
            aware_at=dt.datetime(2026, 3, 9, 9, 0, tzinfo=site.tz),
        )
        response = client.get("/safety/adverse-events/", {"_export": "xlsx"})
        text = client.get("/safety/adverse-events/", {"_export": "csv"}).content.decode()
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert "f" not in {cell.data_type for cell in cells}
    assert any(cell.value == "'" + HYPERLINK and cell.data_type == "s" for cell in cells)
    assert any(cell.data_type == "n" and cell.value == 2 for cell in cells)  # the grade
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_the_schedule_preview_csv_quotes_a_protocol_text():
    data = {**PROTOCOL, "visits": [dict(v) for v in PROTOCOL["visits"]]}
    data["visits"][0]["name"] = "=1+1"
    rows = list(csv.DictReader(io.StringIO(schedule_preview(data, TODAY).as_csv())))
    assert rows[0]["name"] == "'=1+1"
    assert rows[0]["target_date"] == TODAY.isoformat()
