"""The calendar: open windows as bars over their days, done and missed visits on their day, each
visit named once, targets on weekends and site holidays flagged, only the range shown read."""

import re

import pytest

from schedule import services
from tests.support import NOW, TODAY, days, frozen, visit, worklist_scenario

URL = "/calendar/"


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    site.holidays = ["2026-03-10"]
    site.save()
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def bar(html: str, v) -> str:
    """The opening tag of the visit's labelled bar."""
    found = re.findall(
        rf'<a class="(cal-bar[^"]*)" href="[^"]*#visit-{v.pk}" title="([^"]*)"', html
    )
    assert len(found) == 1, found  # named once
    return " ".join(found[0])


def test_an_open_window_is_a_bar_over_its_days(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()  # week of Mon 9 Mar
    # closing's SCR: window 26 Feb to 12 Mar, so Monday to Thursday of this week.
    scr = bar(html, visit(data["closing"], "SCR"))
    assert "bar-window col-1 span-4" in scr
    assert "window 2026-02-26 to 2026-03-12" in scr
    # late's SCR window closed on 15 Feb: not this week.
    assert f"#visit-{visit(data['late'], 'SCR').pk}" not in html


def test_targets_on_a_weekend_or_a_site_holiday_are_flagged(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()
    aph = bar(html, visit(data["coming"], "APH"))  # target Saturday 14 Mar
    assert "flagged" in aph and "target on a Saturday" in aph
    due = bar(html, visit(data["due"], "SCR"))  # target Tuesday 10 Mar, an S01 holiday
    assert "flagged" in due and "target on a S01 holiday" in due
    assert "S01 holiday" in html and "cal-day col-2 today holiday" in html
    closing = bar(html, visit(data["closing"], "SCR"))  # target Thursday 26 Feb
    assert "flagged" not in closing


def test_done_visits_sit_on_their_day_and_long_windows_are_named_once(client, coordinator, data):
    due = visit(data["due"], "SCR")
    with frozen():
        services.visit_record_done(due, actual_date=TODAY, by=coordinator)
    client.force_login(coordinator)
    with frozen():
        month = client.get(URL + "?view=month").content.decode()
    assert "bar-done col-2 span-1" in bar(month, due)
    # closing's SCR window runs over three weeks of the month view: one link, two continuations.
    scr = visit(data["closing"], "SCR")
    assert month.count(f"#visit-{scr.pk}") == 1
    assert month.count(f"{data['closing'].label} SCR (continued)") == 2


def test_the_calendar_reads_a_fixed_number_of_queries(
    client, coordinator, data, django_assert_max_num_queries
):
    client.force_login(coordinator)
    with frozen(NOW + days(1)), django_assert_max_num_queries(7):
        assert client.get(URL + "?view=month").status_code == 200
