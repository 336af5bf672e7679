"""Eligibility as a signature in real Chromium: a coordinator prepares the checklist as a draft,
the investigator opens it, is refused with a wrong password (nothing saved), then signs; the
participant page shows the printed name, the meaning, the site time and UTC.

Data is committed (transactional tests) because the live server answers from another thread.
"""

import datetime as dt

import pytest
from django.urls import reverse

from participants.models import Eligibility
from tests.support import PASSWORD, REPO_ROOT, consent, frozen, local

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
SCREENED_ON = dt.date(2026, 3, 2)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def screening(protocol, site, coordinator, investigator):
    investigator.first_name, investigator.last_name = "Grace", "Hopper"
    investigator.save()
    # 10 March 2026, 14:00 in New York (EDT since 8 March: UTC-4), the clock ticking.
    with frozen(local(dt.date(2026, 3, 10), 14, site.time_zone), tick=True):
        yield consent(site, coordinator, SCREENED_ON)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")


def answer(page, label_start: str, choice: str) -> None:
    page.get_by_role("group", name=label_start).get_by_label(choice, exact=True).check()


def test_the_coordinators_draft_is_signed_by_the_investigator(
    page, live_server, screening, coordinator, investigator
):
    participant_url = live_server.url + reverse("dashboard:participant", args=[screening.pk])

    # The coordinator prepares the checklist: two criteria left for the investigator.
    log_in(page, live_server, coordinator.username)
    page.goto(participant_url)
    page.get_by_role("link", name="Enroll (eligibility sign-off)").click()
    page.wait_for_url("**/enroll/")
    assert page.get_by_label("Your password (your signature)").count() == 0
    answer(page, "IN_SLE", "Met")
    answer(page, "IN_AUTOAB", "Met")
    answer(page, "IN_ACTIVE", "Met")
    answer(page, "EX_PREG", "Does not apply")
    answer(page, "EX_NEURO", "Does not apply")
    shot(page, "eligibility-draft-form")
    page.get_by_role("button", name="Save the draft for the investigator").click()
    page.wait_for_url(participant_url)
    assert "waiting for the investigator's signature" in page.locator("#eligibility").inner_text()
    assert "5 of 7 criteria answered" in page.locator("#eligibility").inner_text()
    shot(page, "eligibility-draft-on-participant")

    # The investigator opens the draft, prefilled, and completes it.
    log_in(page, live_server, investigator.username)
    page.goto(participant_url)
    page.locator("#eligibility").get_by_role("link", name="Open the checklist").click()
    assert page.get_by_role("group", name="IN_SLE").get_by_label("Met", exact=True).is_checked()
    answer(page, "IN_AGE", "Met")
    answer(page, "EX_ILLNESS", "Does not apply")
    assert "eligibility confirmed" in page.locator("main").inner_text()

    # A wrong password: refused under the field, nothing signed, the draft kept.
    page.get_by_label("Your password (your signature)").fill("not-my-password")
    page.get_by_role("button", name="Sign and enroll").click()
    error = page.locator("#id_password_error")
    assert "nothing was signed or saved" in error.inner_text()
    shot(page, "eligibility-wrong-password")
    checklist = Eligibility.objects.get(participant=screening)
    assert checklist.signed_at is None and len(checklist.answers) == 5

    # The right one: signed and enrolled.
    page.get_by_label("Your password (your signature)").fill(PASSWORD)
    page.get_by_role("button", name="Sign and enroll").click()
    page.wait_for_url(participant_url)
    signature = page.locator("#eligibility .signature").inner_text()
    assert "Grace Hopper" in signature
    assert "eligibility confirmed" in signature
    assert "2026-03-10 14:" in signature and "EDT (site time)" in signature
    assert "2026-03-10 18:" in signature and "UTC" in signature
    shot(page, "eligibility-signed-on-participant")
    checklist.refresh_from_db()
    assert checklist.prepared_by == coordinator and checklist.signed_by == investigator
    screening.refresh_from_db()
    assert screening.status == "enrolled"
