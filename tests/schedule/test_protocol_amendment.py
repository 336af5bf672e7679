"""Protocol amendments: a new version copied from the old, inactive until made active, and
participants keep the version they were scheduled under."""

import datetime as dt

import pytest
import time_machine

from schedule import services
from schedule.models import ProtocolVersion, VisitDefinition
from tests.support import UTC, consent


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, tzinfo=UTC), tick=False):
        yield


def test_an_amendment_copy_is_inactive_until_made_active(protocol):
    amendment = services.protocol_copy_as_amendment(protocol, name="Amendment 1")
    assert amendment.version == protocol.version + 1
    assert amendment.is_active is False
    assert services.protocol_current() == protocol
    assert amendment.visits.count() == protocol.visits.count()


def test_participants_keep_the_version_they_were_scheduled_under(protocol, site, coordinator):
    before = consent(site, coordinator, dt.date(2026, 3, 2))
    amendment = services.protocol_copy_as_amendment(protocol, name="Amendment 1")
    VisitDefinition.objects.filter(protocol=amendment, code="SCR").update(window_after=21)
    amendment.is_active = True
    amendment.save()
    after = consent(site, coordinator, dt.date(2026, 3, 3))

    assert before.schedule.protocol == protocol
    assert after.schedule.protocol == amendment
    scr_before = before.visits.get(definition__code="SCR")
    scr_after = after.visits.get(definition__code="SCR")
    assert (scr_before.window_end - scr_before.target_date).days == 14
    assert (scr_after.window_end - scr_after.target_date).days == 21
    assert ProtocolVersion.objects.count() == 2


def test_a_broken_amendment_cannot_be_made_active_in_the_admin(protocol, admin_client):
    from django.urls import reverse

    amendment = services.protocol_copy_as_amendment(protocol, name="Amendment 1")
    VisitDefinition.objects.filter(protocol=amendment, code="M3").update(window_before=40)
    url = reverse("admin:schedule_protocolversion_change", args=[amendment.pk])
    data = {
        "version": amendment.version,
        "name": amendment.name,
        "notes": "",
        "effective_on": "",
        "is_active": "on",
        "visits-TOTAL_FORMS": "0",
        "visits-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    body = response.content.decode()
    assert "This version cannot be made active" in body
    assert "The windows of M2 and M3 overlap." in body
    amendment.refresh_from_db()
    assert amendment.is_active is False
