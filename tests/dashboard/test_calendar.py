"""The calendar: open windows as bars over their days, done and missed visits on their day, each
visit named once, targets on weekends and site holidays flagged, only the range shown read."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import calendar_selectors as calendar_reads
from schedule import services
from tests.support import NOW, TODAY, consent, days, frozen, visit, worklist_scenario

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
    with frozen(NOW + days(1)), django_assert_max_num_queries(9):
        assert client.get(URL + "?view=month").status_code == 200


def test_a_day_shows_its_first_visits_and_how_many_more_with_a_link_to_the_whole_day(
    client, site, coordinator, data, monkeypatch
):
    monkeypatch.setattr(calendar_reads, "PER_DAY", {"week": 2, "month": 2})
    with frozen():
        extra = [consent(site, coordinator, TODAY, screening_number=f"C-{i}") for i in range(3)]
    targets = [visit(p, "SCR") for p in (data["due"], *extra)]  # four SCRs due on Tue 10 Mar
    client.force_login(coordinator)
    with frozen():
        week = client.get(URL).content.decode()
        month = client.get(URL + "?view=month").content.decode()
        filtered = client.get(URL + f"?view=month&site={site.code}&page=3").content.decode()
        whole_day = client.get(URL + "?view=day&date=2026-03-10").content.decode()
    for html in (week, month):
        assert sum(f'#visit-{v.pk}"' in html for v in targets) == 2
        assert "+2 more" in html
        assert "view=day&amp;date=2026-03-10" in html
    # The day's link keeps the site shown and starts the list at its first page.
    assert f'href="?view=day&amp;site={site.code}&amp;date=2026-03-10"' in filtered
    # The day's list holds all four, each one click from its participant.
    for v in targets:
        assert f'href="/participants/{v.participant_id}/"' in whole_day


def test_a_crowded_month_reads_the_same_queries_and_stays_bounded(
    client, site, coordinator, data, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(calendar_reads, "PER_DAY", {"week": 2, "month": 2})
    client.force_login(coordinator)
    url = URL + "?view=month"

    def read():
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(9):
            html = client.get(url).content.decode()
        return len(queries), len(re.findall(r'href="[^"]*#visit-', html)), html

    with frozen():
        client.get(url)
        before, bars_before, _ = read()
        for i in range(12):  # twelve more SCRs due on 10 Mar
            consent(site, coordinator, TODAY, screening_number=f"C-{i:02d}")
        after, bars_after, html = read()
    assert after == before
    # Each day shows its cap whatever the crowd: one visit more on 10 Mar (the SCRs) and one on
    # the month view's last day, 5 Apr (their APH windows open beyond it), each had one.
    assert bars_after == bars_before + 2
    assert html.count("+11 more") == 2


def test_a_crowded_day_shows_the_sites_by_code_then_participants_in_the_order_they_joined(
    client, site, manager, data, monkeypatch
):
    from participants.models import Site
    from tests.support import coordinator_at

    monkeypatch.setattr(calendar_reads, "PER_DAY", {"week": 3, "month": 3})
    # A site added after S01 whose code sorts first: its visits come first on a crowded day.
    first_by_code = Site.objects.create(code="A01", name="Another", time_zone=site.time_zone)
    with frozen():
        there = [
            consent(first_by_code, coordinator_at(first_by_code), TODAY, screening_number=f"A-{i}")
            for i in range(2)
        ]
        here = [
            consent(site, coordinator_at(site), TODAY, screening_number=f"Z-{i}") for i in range(2)
        ]
    client.force_login(manager)
    with frozen():
        week = client.get(URL + f"?site=&date={TODAY}").content.decode()
    shown = [p for p in (*there, data["due"], *here) if f'#visit-{visit(p, "SCR").pk}"' in week]
    # A01's two, then S01's first participant to join (the worklist scenario's, due today).
    assert shown == [*there, data["due"]]
