"""What the emails say and link to: every link reversed from a URL name and joined to SITE_URL,
and every visit labelled by Visit.code (a repeat leukapheresis is "APH #2", not "APH")."""

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib import admin
from django.urls import include, path

from notifications import services
from notifications.services.emails import admin_url, participant_list_url, participant_url
from schedule import services as schedule_services
from tests.support import Journey, local

pytestmark = pytest.mark.usefixtures("memory_broker")

# A URLconf with the dashboard moved under /study/: the emails' links must follow it.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("study/", include("dashboard.urls")),
]

EMAIL_TEMPLATES = Path(django_settings.BASE_DIR) / "templates" / "emails"


def test_links_are_reversed_from_url_names_and_joined_to_site_url(settings):
    settings.SITE_URL = "https://tracker.example.org"
    settings.ROOT_URLCONF = __name__
    assert participant_url(5) == "https://tracker.example.org/study/participants/5/"
    assert participant_list_url() == "https://tracker.example.org/study/participants/"
    assert (
        admin_url("admin:schedule_visit_change", 7)
        == "https://tracker.example.org/admin/schedule/visit/7/change/"
    )
    assert admin_url("admin:no_such_page", 7) is None


def test_email_templates_build_no_paths_by_hand():
    templates = sorted(EMAIL_TEMPLATES.iterdir())
    assert templates
    for template in templates:
        text = template.read_text()
        assert "site_url" not in text, template.name
        assert 'href="/' not in text and "/participants" not in text, template.name


@pytest.fixture
def repeat_aph(protocol, site, coordinator, investigator):
    """A participant whose manufacturing failed: a repeat leukapheresis (occurrence 2) is open."""
    journey = Journey(site, coordinator, investigator)
    journey.screening_visit()
    journey.enroll()
    journey.plan()
    journey.apheresis()
    failed_on = dt.date(2026, 2, 9)
    with journey.on(failed_on):
        schedule_services.participant_manufacturing_fail(
            journey.p, on=failed_on, reason="cells did not expand", by=coordinator
        )
    visit = journey.visit("APH", occurrence=2)
    assert visit.code == "APH #2"
    return journey, visit


def test_a_reminder_for_a_repeat_leukapheresis_says_aph_2(repeat_aph, site, mailoutbox):
    journey, visit = repeat_aph
    at = local(visit.target_date - dt.timedelta(days=1), 8, site.time_zone)

    services.reminders_scan(now=at)
    services.outbox_deliver_due(now=at)

    [message] = mailoutbox
    label = f"{journey.p.label} APH #2"
    assert label in message.subject
    assert label in message.body and label in message.alternatives[0][0]
    assert participant_url(journey.p.pk) in message.body


def test_a_safety_alert_for_a_repeat_leukapheresis_says_aph_2(repeat_aph, site, mailoutbox):
    journey, visit = repeat_aph
    due = visit.assessments.filter(is_safety=True).first().due_at
    at = due + dt.timedelta(minutes=5)

    with time_machine.travel(at, tick=False):
        services.overdue_scan(now=at)
        services.outbox_deliver_due(now=at)

    about_repeat = [m for m in mailoutbox if f"{journey.p.label} APH #2" in m.subject]
    assert about_repeat
    for message in about_repeat:
        assert f"{journey.p.label} APH #2 (Leukapheresis)" in message.body
