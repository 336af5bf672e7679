"""The Content-Security-Policy (sle001/settings.py) in real Chromium: no page of the dashboard or
the admin, nor the lockout page, has a script, style or image refused, and the styles that left
style attributes still apply (the progress bars, the heartbeat banner, the admin's OVERDUE)."""

import pytest
from django.urls import reverse

from tests.support import PASSWORD, frozen, visit, worklist_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUSED = "Content Security Policy"


@pytest.fixture
def world(protocol, site, site2, coordinator, investigator):
    with frozen(tick=True):
        yield worklist_scenario(site, site2, coordinator, investigator)


def watch(page) -> list[str]:
    """Every refusal Chromium reports on the console, from now on."""
    refused = []
    page.on("console", lambda message: REFUSED in message.text and refused.append(message.text))
    return refused


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def style(page, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")


def test_dashboard_pages_break_no_rule_and_keep_their_styles(page, live_server, world, coordinator):
    refused = watch(page)
    log_in(page, live_server, coordinator.username)
    page.wait_for_url(live_server.url + "/")
    # Staff see the banner (the jobs have never run here), styled from heartbeat.css.
    assert style(page, "#heartbeat-banner", "backgroundColor") == "rgb(176, 0, 32)"

    page.goto(live_server.url + reverse("dashboard:participants"))
    late = reverse("dashboard:participant", args=[world["late"].pk])
    page.goto(live_server.url + late)
    screening = page.locator(".progress-line .seg-screening rect")
    assert 0 < int(screening.get_attribute("width")) <= 100
    assert style(page, ".progress-line .seg-screening rect", "fill") == "rgb(107, 143, 181)"
    for url in ("/calendar/", "/calendar/?view=month", "/calendar/feed/"):
        page.goto(live_server.url + url)
    page.get_by_role("button", name="Make my calendar address").click()
    assert page.get_by_label("Your calendar address").input_value().endswith(".ics")
    assert refused == []

    # The watch works: a style attribute set now is refused and reported.
    with page.expect_console_message(lambda message: REFUSED in message.text):
        page.evaluate("document.body.setAttribute('style', 'color: red')")


def test_admin_pages_break_no_rule(page, live_server, world, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)
    refused = watch(page)
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/admin/")
    for url in (
        "/admin/participants/participant/",
        f"/admin/participants/participant/{world['late'].pk}/change/",
        "/admin/schedule/visit/?status__exact=scheduled",
        "/admin/axes/accessfailurelog/",
        f"/admin/schedule/visit/{visit(world['late'], 'SCR').pk}/change/",
    ):
        page.goto(live_server.url + url)
    # The visit's overdue safety items: OVERDUE in the admin's error red, from schedule/admin.css.
    assert style(page, ".overdue-flag", "color") == "rgb(186, 33, 33)"
    assert refused == []


def test_the_lockout_page_breaks_no_rule(page, live_server, coordinator):
    refused = watch(page)
    for _ in range(5):
        log_in(page, live_server, coordinator.username, "not-the-password")
    assert page.get_by_text("Too many failed log-ins for this account").is_visible()
    log_in(page, live_server, coordinator.username)  # the right password, still locked out
    assert page.get_by_role("heading", name="Log-in locked").is_visible()
    assert "/accounts/login/" in page.url
    assert refused == []
