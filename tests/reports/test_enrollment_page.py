"""The enrollment report page: every site for managers and monitors, a coordinator's own sites
only; a month picker that refuses what is not a month; the pictures drawn and not empty; the CSV
and JSON downloads parse back to the page's figures; XLSX of every table; a print stylesheet."""

import csv
import datetime as dt
import io
import json

import openpyxl
import pytest
from django.urls import reverse

from participants.models import StaffRole
from reports import pictures, tabular
from reports.selectors import enrollment_figures
from tests.support import coordinator_at, frozen, make_user

PAGE = reverse("dashboard:enrollment_report")
TODAY = dt.datetime(2026, 4, 15, 15, 0, tzinfo=dt.UTC)


def get(client, url, **params):
    with frozen(TODAY):
        return client.get(url, params)


def parsed_csv(text: str) -> dict:
    """(site, figure, period) -> value, numbers as numbers and empty cells as None."""
    figures = {}
    for row in csv.DictReader(io.StringIO(text)):
        value = row["value"]
        try:
            value = float(value)
        except ValueError:
            value = value or None
        figures[(row["site"], row["figure"], row["period"])] = value
    return figures


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR)


def test_a_manager_sees_every_site_and_the_trials_target(
    client, trial_history, manager, django_assert_max_num_queries
):
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        response = get(client, PAGE, month="2026-02")
    assert response.status_code == 200
    report = response.context["report"]
    assert [s["site"] for s in report["sites"]] == ["S01", "S02"]
    assert report["total"]["target"] == 30
    assert report == enrollment_figures(dt.date(2026, 2, 1))
    html = response.content.decode()
    assert "Enrollment report, February 2026" in html
    assert "5</strong> enrolled of a target of 30" in html
    assert 'href="/static/dashboard/enrollment_report.css"' in html
    assert trial_history["A"].p.screening_number not in html


def test_a_coordinator_sees_only_their_sites(client, trial_history, coordinator, site2, monitor):
    client.force_login(coordinator)
    report = get(client, PAGE, month="2026-02").context["report"]
    assert [s["site"] for s in report["sites"]] == ["S01"]
    assert (report["all_sites"], report["total"]["name"], report["total"]["target"]) == (
        False,
        "These sites",
        10,
    )
    assert report["total"]["counts"]["withdrawn"]["to_date"] == 0  # S02's withdrawal is not here
    downloaded = get(client, PAGE, month="2026-02", _export="csv").content.decode()
    assert {key[0] for key in parsed_csv(downloaded)} == {"S01", "ALL"}
    client.force_login(coordinator_at(site2))
    assert [s["site"] for s in get(client, PAGE, month="2026-02").context["report"]["sites"]] == [
        "S02"
    ]
    client.force_login(monitor)
    assert len(get(client, PAGE, month="2026-02").context["report"]["sites"]) == 2


def test_without_a_study_role_the_page_is_refused(client, db, site):
    response = get(client, PAGE)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(make_user("nobody", role=StaffRole.COORDINATOR))
    assert get(client, PAGE).status_code == 200  # a coordinator of no site sees no site
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("no-profile", password="x"))
    assert get(client, PAGE).status_code == 403


@pytest.mark.parametrize(
    ("asked", "problem"),
    [
        ("2026-13", "is not a month"),
        ("March", "is not a month"),
        ("2026-05", "May 2026 is outside the study"),  # after this month
        ("2019-12", "December 2019 is outside the study"),
    ],
)
def test_a_month_that_is_not_one_shows_last_month_and_says_why(client, manager, asked, problem):
    client.force_login(manager)
    response = get(client, PAGE, month=asked)
    assert response.status_code == 200
    assert response.context["report"]["month"] == "2026-03"  # last month, on 15 April
    assert problem in response.context["problem"]


def test_the_month_picker_defaults_to_last_month_and_offers_up_to_this_one(client, manager):
    client.force_login(manager)
    html = get(client, PAGE).content.decode()
    assert 'type="month" name="month" id="id_month" value="2026-03"' in html
    assert 'max="2026-04"' in html


def test_the_csv_and_json_downloads_parse_back_to_the_pages_figures(client, trial_history, manager):
    client.force_login(manager)
    page = get(client, PAGE, month="2026-03").context["report"]

    as_json = get(client, PAGE, month="2026-03", _export="json")
    assert as_json["Content-Disposition"] == 'attachment; filename="enrollment-2026-03.json"'
    assert json.loads(as_json.content) == page

    as_csv = get(client, PAGE, month="2026-03", _export="csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    figures = parsed_csv(as_csv.content.decode())
    expected = {
        (site, figure, period): (float(value) if isinstance(value, int | float) else value)
        for site, figure, period, value in tabular.figure_rows(page)
    }
    assert figures == expected
    for scope in [*page["sites"], page["total"]]:
        for key, pair in scope["counts"].items():
            assert figures[(scope["site"], key, "month")] == pair["month"]
            assert figures[(scope["site"], key, "to_date")] == pair["to_date"]
    assert figures[("S02", "screen_failed_criteria:EX_PREG", "month")] == 1
    assert figures[("ALL", "median_days:leukapheresis_to_first_infusion", "to_date")] == 16.5


def test_every_table_downloads_as_xlsx_and_each_as_csv(client, trial_history, manager):
    client.force_login(manager)
    page = get(client, PAGE, month="2026-02")
    workbook = openpyxl.load_workbook(
        io.BytesIO(get(client, PAGE, month="2026-02", _export="xlsx").content)
    )
    assert workbook.sheetnames == [t.key for t, _ in page.context["tables"]]
    counts = workbook["counts"]
    rows = {r[0]: r[1:] for r in counts.iter_rows(min_row=2, values_only=True)}
    assert rows["Enrolled"] == (3, 5, 0, 0, 3, 5)
    one = get(client, PAGE, month="2026-02", _export="csv", _table="status")
    assert one["Content-Disposition"] == 'attachment; filename="enrollment-2026-02-status.csv"'
    status_rows = list(csv.reader(io.StringIO(one.content.decode())))
    assert status_rows[0] == ["Status", "S01", "S02", "ALL"]
    assert ["Died", "1", "0", "1"] in status_rows
    assert get(client, PAGE, _export="csv", _table="nothing").status_code == 404


def test_the_flow_diagram_and_the_accrual_chart_are_drawn_and_not_empty(
    client, trial_history, manager
):
    client.force_login(manager)
    for name, words in (("consort", "Assessed for eligibility"), ("accrual", "Target 30")):
        url = reverse("dashboard:enrollment_report_picture", args=[name])
        response = get(client, url, month="2026-03")
        assert response["Content-Type"] == "image/svg+xml"
        svg = response.content.decode()
        assert "<svg" in svg and words in svg and len(svg) > 5000
    consort_svg = get(
        client, reverse("dashboard:enrollment_report_picture", args=["consort"]), month="2026-03"
    ).content.decode()
    assert "n = 8" in consort_svg  # assessed: eight people by 31 March
    report = enrollment_figures(dt.date(2026, 3, 1))
    for draw in (pictures.consort_picture, pictures.accrual_picture):
        png = draw(report, "png")
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    missing = reverse("dashboard:enrollment_report_picture", args=["pie"])
    assert get(client, missing).status_code == 404


def test_a_month_with_nobody_yet_still_draws_and_renders(client, manager, site):
    client.force_login(manager)
    assert get(client, PAGE, month="2026-01").status_code == 200
    report = enrollment_figures(dt.date(2026, 1, 1))
    assert report["total"]["accrual"] == [] and report["total"]["first_consent_on"] is None
    assert pictures.accrual_picture(report, "svg").startswith(b"<?xml")
    assert pictures.consort_picture(report, "png").startswith(b"\x89PNG")


def test_the_command_prints_the_same_figures_as_text_csv_and_json(trial_history, capsys):
    from django.core.management import call_command

    call_command("enrollment_report", "--month", "2026-02", "--format", "json")
    assert json.loads(capsys.readouterr().out) == enrollment_figures(dt.date(2026, 2, 1))
    call_command("enrollment_report", "--month", "2026-02", "--format", "csv")
    figures = parsed_csv(capsys.readouterr().out)
    assert figures[("S01", "enrolled", "to_date")] == 5
    call_command("enrollment_report", "--month", "2026-02")
    text = capsys.readouterr().out
    assert "2026-02" in text
    assert any(
        line.split()[:1] == ["Enrolled"] and line.split()[1:] == ["3", "5", "0", "0", "3", "5"]
        for line in text.splitlines()
    )
