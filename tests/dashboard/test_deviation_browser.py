"""In Chromium: a coordinator records a visit after its window closed, is asked to confirm (how
many days late, a deviation will be drafted), confirms, and finds the draft on the deviations
page, then describes and opens it. Screenshots in test-artifacts/screenshots/."""

import pytest
from playwright.sync_api import expect

from schedule.models import Deviation, DeviationStatus
from tests.dashboard.test_browser import log_in, shot
from tests.support import frozen, worklist_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def world(protocol, site, site2, coordinator, investigator):
    with frozen(tick=True):
        yield worklist_scenario(site, site2, coordinator, investigator)


def test_a_coordinator_confirms_an_out_of_window_visit_and_finds_the_draft(
    page, live_server, world, coordinator
):
    late = world["late"]  # SCR's window closed on 15 Feb; today is 10 Mar
    log_in(page, live_server, coordinator.username)

    page.locator("#overdue_visits").get_by_role("link", name="Record SCR").first.click()
    page.get_by_label("Date of the visit").fill("2026-03-09")
    page.get_by_role("button", name="Save").click()
    question = page.locator("#id_confirm_out_of_window_error")
    assert question.inner_text() == (
        "This date is 22 days after the window closed (2026-02-15); a deviation will be drafted."
    )
    shot(page, "visit-out-of-window-confirm")
    assert not Deviation.objects.exists()

    page.get_by_label("Record it on this date, outside its window").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(live_server.url + "/")
    assert "recorded as done" in page.locator(".messages").inner_text()

    page.get_by_role("link", name="Deviations", exact=True).click()
    page.wait_for_url(live_server.url + "/deviations/")
    row = page.locator("table.data tbody tr", has_text=late.label)
    expect(row).to_have_count(1)  # waits for the page: count() alone read the old one
    assert "Visit out of window" in row.inner_text() and "Draft" in row.inner_text()
    shot(page, "deviations-page")

    draft = Deviation.objects.get()
    row.get_by_role("link", name=draft.reference).click()
    page.get_by_label("What happened, and why").fill("Participant was in hospital with a flare.")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Open the deviation").click()
    assert page.locator(".messages").inner_text().strip() == f"{draft.reference} opened."
    shot(page, "deviation-opened")
    draft.refresh_from_db()
    assert draft.status == DeviationStatus.OPEN
    assert draft.description == "Participant was in hospital with a flare."
