"""The enrollment report page in real Chromium: both pictures load under the Content-Security-
Policy, and the print layout hides the navigation and the downloads. A screenshot of the page and
of its print layout go to test-artifacts/screenshots/."""

import pytest
from django.urls import reverse

from tests.support import PASSWORD, REPO_ROOT, frozen, worklist_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture
def world(protocol, site, site2, coordinator, investigator, manager):
    with frozen(tick=True):  # 10 March 2026: February is last month
        yield worklist_scenario(site, site2, coordinator, investigator)


def test_the_report_page_shows_both_pictures_and_prints_without_navigation(
    page, live_server, world, manager
):
    refused = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and refused.append(m.text),
    )
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("User name").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")
    page.get_by_role("link", name="Enrollment report").click()
    page.wait_for_url(live_server.url + reverse("dashboard:enrollment_report"))
    assert page.get_by_role("heading", level=1).inner_text() == "Enrollment report, February 2026"
    images = page.locator(".report-pictures img")
    assert images.count() == 2
    for i in range(2):
        images.nth(i).scroll_into_view_if_needed()
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth") > 100
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "enrollment-report.png"), full_page=True)

    page.get_by_role("textbox", name="Month").fill("2026-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**month=2026-01")
    assert "January 2026" in page.get_by_role("heading", level=1).inner_text()

    page.emulate_media(media="print")
    assert not page.locator("header.top nav").is_visible()
    assert not page.locator(".exports").first.is_visible()
    assert page.locator("table.report").first.is_visible()
    page.screenshot(path=str(SHOTS / "enrollment-report-print.png"), full_page=True)
    assert refused == []
