"""CRS in real Chromium (Debian's, through Playwright) against the live server: a coordinator
records CRS findings through the form and reads the computed grade and why on the participant page;
the safety-event scan queues the alert, and a study manager finds it in the admin's outbox.

As tests/dashboard/test_browser.py: committed data (transactional tests), time frozen at NOW with
the clock ticking, screenshots to test-artifacts/screenshots/. Chromium missing is a skip, or a
failure with REQUIRE_SERVICES=1 (conftest's browser_type_launch_args).
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboxEmail
from notifications.services import safety_events_scan
from participants import roles
from participants.models import StaffRole
from safety.models import AdverseEvent
from tests.dashboard.test_browser import log_in, shot
from tests.support import Journey, frozen, make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_broker"),  # the outbox's send tasks stay in this process
]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def in_treatment(protocol, site, coordinator, investigator):
    """First infusion given on 20 Feb 2026; then today is NOW (10 Mar, 11:00 in New York)."""
    p = Journey(site, coordinator, investigator).to_treatment()
    with frozen(tick=True):
        yield p


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR)


def test_coordinator_records_crs_findings_and_the_manager_sees_the_monitors_alert_in_the_outbox(
    page, live_server, in_treatment, coordinator, manager, monitor
):
    p = in_treatment
    log_in(page, live_server, coordinator.username)
    page.get_by_role("link", name="Participants", exact=True).click()
    page.get_by_role("link", name=p.label).first.click()
    assert page.get_by_role("heading", name="CRS / ICANS episodes").is_visible()

    page.get_by_role("link", name="Record CRS findings").click()
    assert page.get_by_role("heading", name=f"Record CRS findings: {p.label}").is_visible()
    shot(page, "crs-form")
    # A temperature in °F first: refused under its field, nothing saved.
    page.get_by_label("Highest temperature (°C)").fill("101.3")
    page.get_by_label("No", exact=True).check()
    page.get_by_label("One vasopressor (with or without vasopressin)").check()
    page.get_by_label("Low flow: nasal cannula ≤ 6 L/min, or blow-by").check()
    page.get_by_role("button", name="Save and grade").click()
    assert "looks like °F" in page.locator("#id_temperature_c_error").inner_text()
    shot(page, "crs-form-error")
    assert not AdverseEvent.objects.exists()

    page.get_by_label("Highest temperature (°C)").fill("38.6")
    page.get_by_role("button", name="Save and grade").click()
    page.wait_for_url(live_server.url + reverse("dashboard:participant", args=[p.pk]) + "#episodes")
    reference = f"{p.label}-AE1"
    message = page.locator(".messages").inner_text()
    assert f"CRS grade 3: hypotension needing one vasopressor ({reference})" in message
    assert "Next infusion on hold until grade 1 or less" in message
    episode = page.locator("article.episode")
    assert "grade 3" in episode.locator("h3").inner_text()
    assert "hypotension needing one vasopressor" in episode.locator("table").inner_text()
    assert "Next infusion on hold" in episode.inner_text()
    shot(page, "participant-crs-grade-3")

    # The every-minute job's scan, as the worker would run it.
    result = safety_events_scan(now=timezone.now())
    assert result.gradings == 1
    alert = OutboxEmail.objects.get(recipient=monitor)
    assert alert.to_email == "monitor@example.org" and reference in alert.subject

    # A study manager (in the role's group, as add_staff puts them) reads the outbox.
    manager.groups.add(roles.group_for(StaffRole.STUDY_MANAGER))
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, manager.username)
    page.goto(live_server.url + "/admin/notifications/outboxemail/")
    row = page.locator("#result_list tbody tr", has_text="monitor@example.org")
    assert row.count() == 1
    assert f"{reference} Cytokine release syndrome (CRS) grade 3" in row.inner_text()
    shot(page, "admin-outbox-crs-alert")
