"""A visit is labelled by Visit.code everywhere: a repeat leukapheresis reads "APH #2" on the
worklist, the participants list, the calendar and in the iCal feed, never a bare "APH"."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from dashboard.models import CalendarFeedToken
from schedule import services
from tests.support import APHERESIS_ON, CONSENT_ON, ENROLL_ON, Journey

FAILED_ON = APHERESIS_ON + dt.timedelta(days=10)


@pytest.fixture
def repeat(protocol, site, coordinator, investigator):
    """A participant whose manufacturing failed: the repeat leukapheresis (APH #2) is open, its
    window opening on the failure day."""
    journey = Journey(site, coordinator, investigator)
    with journey.on(CONSENT_ON):
        services.visit_record_done(journey.visit("SCR"), actual_date=CONSENT_ON, by=coordinator)
    journey.enroll(ENROLL_ON)
    journey.apheresis(APHERESIS_ON)
    with journey.on(FAILED_ON):
        services.participant_manufacturing_fail(
            journey.p, on=FAILED_ON, reason="low expansion", by=coordinator
        )
    aph2 = journey.visit("APH")
    assert aph2.occurrence == 2
    return journey, aph2


def _page(client, user, url, day):
    client.force_login(user)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    with time_machine.travel(noon, tick=False):
        return client.get(url).content.decode()


def test_a_repeat_leukapheresis_reads_aph_2_on_every_page(client, coordinator, repeat):
    journey, aph2 = repeat
    label = journey.p.label
    on_target = aph2.target_date
    worklist = _page(client, coordinator, reverse("dashboard:worklist"), on_target)
    participants = _page(client, coordinator, reverse("dashboard:participants"), on_target)
    calendar = _page(
        client, coordinator, reverse("dashboard:calendar") + f"?date={on_target}", on_target
    )
    assert "APH #2" in worklist
    assert "APH #2" in participants
    assert f"{label} APH #2" in calendar


def test_the_ical_feed_names_the_repeat_leukapheresis_aph_2(client, coordinator, repeat):
    journey, aph2 = repeat
    token = CalendarFeedToken.objects.create(user=coordinator)
    response = client.get(reverse("dashboard:feed", args=[token.key]))
    events = Calendar.from_ical(response.content).walk("VEVENT")
    [event] = [e for e in events if str(e["uid"]).startswith(f"sle001-visit-{aph2.pk}@")]
    assert str(event["summary"]) == f"{journey.p.label} APH #2"
