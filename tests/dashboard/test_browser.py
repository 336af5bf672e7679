"""The dashboard in real Chromium (Debian's, through Playwright) against the live server.

Data is committed (transactional tests) because the live server answers from another thread.
Time is frozen at NOW with the clock ticking, so the server and the test agree on "today".
Screenshots of every page go to test-artifacts/screenshots/ (git-ignored).
"""

import pytest
from django.urls import reverse
from icalendar import Calendar
from playwright.sync_api import expect

from tests.support import PASSWORD, REPO_ROOT, frozen, visit, worklist_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def world(protocol, site, site2, coordinator, investigator):
    with frozen(tick=True):
        yield worklist_scenario(site, site2, coordinator, investigator)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    shot(page, "login")
    # With the keyboard only: type, Tab to the password, Enter to submit.
    page.get_by_label("User name").fill(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")


def count(page, key: str) -> int:
    return int(page.locator(f'[data-count="{key}"]').inner_text())


def test_coordinator_works_through_the_worklist(page, live_server, world, coordinator):
    log_in(page, live_server, coordinator.username)
    assert page.get_by_role("heading", name="Today's work").is_visible()
    assert count(page, "due_today") == 1
    assert count(page, "overdue_safety") == 6
    shot(page, "worklist")

    # Record today's screening visit: one click from the worklist, then Save.
    page.locator("#due_today").get_by_role("link", name="Record SCR").click()
    assert page.get_by_role(
        "heading", name=f"Record visit done: {world['due'].label} SCR"
    ).is_visible()
    shot(page, "visit-done-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(live_server.url + "/")
    assert "recorded as done" in page.locator(".messages").inner_text()
    assert count(page, "due_today") == 0

    # Record the overdue vital signs of the late participant; the item leaves the worklist.
    vs = visit(world["late"], "SCR").assessments.get(definition__code="VS")
    record_vs = reverse("dashboard:assessment_record", args=[vs.pk])
    assert page.locator(f'#overdue_safety a[href^="{record_vs}"]').count() == 1
    page.locator(f'#overdue_safety a[href^="{record_vs}"]').click()
    # Bad input first: no result. The message is next to the field and nothing is saved.
    page.get_by_label("Time (site time)").fill("09:00")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#id_result_error").inner_text().startswith("Enter the result")
    shot(page, "assessment-form-error")
    page.get_by_label("Result", exact=True).fill("BP 128/82, HR 71")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(live_server.url + "/")
    assert count(page, "overdue_safety") == 5
    assert page.locator(f'#overdue_safety a[href^="{record_vs}"]').count() == 0
    vs.refresh_from_db()
    assert vs.status == "done" and vs.result == "BP 128/82, HR 71"

    # The other pages, for the record (and to see they render with this data).
    page.get_by_role("link", name="Participants", exact=True).click()
    expect(page.locator("table.data tbody tr")).to_have_count(4)  # waits for the new page
    shot(page, "participants")
    page.get_by_role("link", name=world["late"].label).first.click()
    assert page.get_by_role("heading", name="Visit timeline").is_visible()
    assert page.locator("tr.overdue").count() >= 1
    shot(page, "participant")
    page.get_by_role("link", name="Calendar", exact=True).click()
    assert page.locator(".cal").get_by_text(f"{world['coming'].label} APH").is_visible()
    shot(page, "calendar-week")
    page.goto(live_server.url + "/calendar/?view=month")
    shot(page, "calendar-month")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(live_server.url + "/")
    shot(page, "worklist-tablet")
    page.goto(live_server.url + reverse("dashboard:participant", args=[world["late"].pk]))
    shot(page, "participant-tablet")


def test_s01_coordinator_cannot_reach_an_s02_participant(page, live_server, world, coordinator):
    berlin = world["berlin"]
    log_in(page, live_server, coordinator.username)

    # Open: a guessed URL is a 404.
    response = page.goto(live_server.url + reverse("dashboard:participant", args=[berlin.pk]))
    assert response.status == 404
    scr = visit(berlin, "SCR")
    response = page.goto(live_server.url + reverse("dashboard:visit_done", args=[scr.pk]))
    assert response.status == 404

    # List: not on the participants page, and S02 is not a choice of the site filter.
    page.goto(live_server.url + "/participants/")
    assert berlin.label not in page.locator("main").inner_text()
    options = page.locator("#id_site option").all_inner_texts()
    assert not any(o.startswith("S02") for o in options)

    # Export: neither in the download nor downloadable on its own.
    body = page.request.get(live_server.url + "/participants/?_export=csv").text()
    assert world["late"].label in body and berlin.label not in body
    participant_csv = reverse("dashboard:participant", args=[berlin.pk]) + "?_export=csv"
    assert page.request.get(live_server.url + participant_csv).status == 404

    # Subscribe: the coordinator's feed carries S01 visits only.
    page.goto(live_server.url + "/calendar/feed/")
    page.get_by_role("button", name="Make my calendar address").click()
    feed_url = page.get_by_label("Your calendar address").input_value()
    shot(page, "calendar-feed")
    cal = Calendar.from_ical(page.request.get(feed_url).body())
    summaries = [str(e["summary"]) for e in cal.walk("VEVENT")]
    assert any(s.startswith(world["late"].label) for s in summaries)
    assert not any(s.startswith(berlin.label) for s in summaries)
