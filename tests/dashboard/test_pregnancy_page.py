"""A pregnancy is recorded on its own page and starts the same 24-hour SAE clock as a serious
adverse event; read-only roles cannot record it."""

import datetime as dt

import pytest
from django.urls import reverse

from participants.models import StaffRole
from safety.models import AdverseEvent, EventKind
from tests.support import NOW, TODAY, consent, frozen, make_user


@pytest.fixture
def participant(protocol, site, coordinator):
    with frozen():
        return consent(site, coordinator, TODAY - dt.timedelta(days=3))


def _url(p):
    return reverse("dashboard:pregnancy_new", args=[p.pk])


def test_a_pregnancy_starts_the_24_hour_clock_from_when_the_site_became_aware(
    client, coordinator, participant
):
    client.force_login(coordinator)
    form = {
        "onset_date": (TODAY - dt.timedelta(days=2)).isoformat(),
        "aware_on": TODAY.isoformat(),
        "aware_time": "09:15",
    }
    with frozen():
        response = client.post(_url(participant), form)
        page = client.get(reverse("dashboard:participant", args=[participant.pk])).content
    assert response.status_code == 302
    event = AdverseEvent.objects.get(participant=participant)
    assert (event.kind, event.serious) == (EventKind.PREGNANCY, True)
    aware = dt.datetime.combine(TODAY, dt.time(9, 15), tzinfo=participant.site.tz)
    assert event.aware_at == aware
    assert event.sponsor_report_due_at == aware + dt.timedelta(hours=24)
    assert event.reference in page.decode()
    assert NOW < event.sponsor_report_due_at


def test_an_awareness_before_the_onset_is_refused_and_nothing_is_saved(
    client, coordinator, participant
):
    client.force_login(coordinator)
    form = {
        "onset_date": TODAY.isoformat(),
        "aware_on": (TODAY - dt.timedelta(days=1)).isoformat(),
        "aware_time": "09:15",
    }
    with frozen():
        response = client.post(_url(participant), form)
    assert response.status_code == 200
    assert not AdverseEvent.objects.exists()


def test_a_study_manager_may_not_record_a_pregnancy(client, participant):
    manager = make_user("manager-p", StaffRole.STUDY_MANAGER, is_staff=True)
    client.force_login(manager)
    with frozen():
        assert client.get(_url(participant)).status_code == 403
