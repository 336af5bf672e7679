"""Calendar (week and month views by site) and the per-user iCal feed at a secret, revocable URL."""

import datetime as dt

import pytest
from django.urls import reverse
from icalendar import Calendar

from dashboard.models import CalendarFeedToken
from tests.support import frozen, visit, worklist_scenario


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def test_week_view_lists_the_weeks_visits_by_day(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        html = client.get(reverse("dashboard:calendar")).content.decode()
    assert "Week of 2026-03-09" in html
    assert f"{data['due'].label} SCR" in html  # target today
    assert f"{data['coming'].label} APH" in html  # target Sat 14 Mar
    assert f"{data['late'].label} SCR" not in html  # target 1 Feb, window closed 15 Feb


def test_month_view_and_site_filter(client, manager, data):
    client.force_login(manager)
    with frozen():
        month = client.get(reverse("dashboard:calendar") + "?view=month&date=2026-02-01")
        s01 = client.get(reverse("dashboard:calendar") + "?view=month&date=2026-02-01&site=S01")
    assert "February 2026" in month.content.decode()
    assert f"{data['berlin'].label} SCR" in month.content.decode()
    assert f"{data['late'].label} SCR" in s01.content.decode()
    assert f"{data['berlin'].label} SCR" not in s01.content.decode()


def test_calendar_downloads_the_range_shown(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        body = client.get(reverse("dashboard:calendar") + "?_export=csv").content.decode()
    lines = body.splitlines()
    assert lines[0] == "Date,Site,Participant,Visit,Status,Window"
    # What the week shows: targets in it, and open windows overlapping it (closing's SCR, to
    # 12 Mar; late's APH, 16 Feb to 11 Mar).
    shown = {data[k].label for k in ("due", "coming", "closing", "late")}
    assert {line.split(",")[2] for line in lines[1:]} == shown


def test_feed_is_valid_ical_with_one_event_per_visit(client, coordinator, data):
    token = CalendarFeedToken.objects.create(user=coordinator)
    with frozen():
        response = client.get(reverse("dashboard:feed", args=[token.key]))
    assert response["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    events = cal.walk("VEVENT")
    expected = sum(
        data[k].visits.exclude(status="not_applicable").count()
        for k in ("due", "closing", "late", "coming")
    )
    assert len(events) == expected
    scr = visit(data["late"], "SCR")
    [event] = [e for e in events if str(e["uid"]).startswith(f"sle001-visit-{scr.pk}@")]
    assert str(event["summary"]) == f"{data['late'].label} SCR"
    assert event.decoded("dtstart") == dt.date(2026, 2, 1)
    assert event.decoded("dtend") == dt.date(2026, 2, 2)
    assert "Window 2026-02-01 – 2026-02-15" in str(event["description"])
    assert len({str(e["uid"]) for e in events}) == len(events)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_feed_url_is_made_shown_rotated_and_revoked(client, coordinator, data):
    client.force_login(coordinator)
    url = reverse("dashboard:feed_settings")
    client.post(url, {"action": "create"})
    first = CalendarFeedToken.objects.get(user=coordinator, revoked_at__isnull=True)
    assert first.key in client.get(url).content.decode()
    client.post(url, {"action": "create"})
    second = CalendarFeedToken.objects.get(user=coordinator, revoked_at__isnull=True)
    assert second.key != first.key
    assert client.get(reverse("dashboard:feed", args=[first.key])).status_code == 404
    assert client.get(reverse("dashboard:feed", args=[second.key])).status_code == 200
    client.post(url, {"action": "revoke"})
    assert client.get(reverse("dashboard:feed", args=[second.key])).status_code == 404
    assert not CalendarFeedToken.objects.filter(user=coordinator, revoked_at__isnull=True).exists()


def test_feed_of_an_inactive_user_is_gone(client, coordinator, data):
    token = CalendarFeedToken.objects.create(user=coordinator)
    coordinator.is_active = False
    coordinator.save()
    assert client.get(reverse("dashboard:feed", args=[token.key])).status_code == 404


def test_feed_holds_no_identifiers_beyond_study_ids(client, coordinator, data):
    token = CalendarFeedToken.objects.create(user=coordinator)
    with frozen():
        body = client.get(reverse("dashboard:feed", args=[token.key])).content.decode()
    # No site names, consent details or staff names.
    for leak in ("New York site", "ICF v2.0", "coord"):
        assert leak not in body.replace("\r\n ", "")
