"""Deviation drafts older than 5 business days in the coordinator's daily digest (issue 9): listed
from the day after the fifth business day (site time zone, weekends and the site's holidays
skipped), once per digest however often the scan runs, for coordinators who take one email per
item too, and left out at send time once the site has opened the deviation."""

import datetime as dt

import pytest

from notifications import services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import ReminderMode, StaffRole
from schedule import services as schedule_services
from schedule.models import Deviation
from tests.support import CONSENT_ON, Journey, days, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")

# SCR's window closes Mon 19 Jan 2026; recorded on Wed 21 Jan at 18:00 New York: the draft's
# fifth business day is Wed 28 Jan, so it is listed from Thu 29 Jan.
LATE_ON = CONSENT_ON + days(16)
FIFTH_BUSINESS_DAY = dt.date(2026, 1, 28)


@pytest.fixture
def draft(protocol, site, coordinator, investigator):
    journey = Journey(site, coordinator, investigator)
    journey.screening_visit(LATE_ON)
    return Deviation.objects.get()


def digest_rows(user):
    return OutboxEmail.objects.filter(recipient=user, kind=OutboxKind.REMINDER_DIGEST)


def scan(site, day: dt.date, hour: int = 6):
    moment = local(day, hour, site.time_zone)
    services.reminders_scan(now=moment)
    return moment


def test_a_draft_is_not_in_the_digest_on_its_fifth_business_day(draft, site, coordinator):
    scan(site, FIFTH_BUSINESS_DAY)

    assert not [r for r in digest_rows(coordinator) if r.context.get("deviations")]


def test_a_draft_older_than_5_business_days_is_in_the_digest_once_and_sent_at_8(
    draft, site, coordinator, mailoutbox
):
    day = FIFTH_BUSINESS_DAY + days(1)
    scan(site, day, hour=5)
    scan(site, day, hour=6)  # hourly: nothing new

    [row] = digest_rows(coordinator)
    assert row.context["deviations"] == [draft.pk]
    assert row.send_after == local(day, 8, site.time_zone)
    services.outbox_deliver_due(now=local(day, 8, site.time_zone))

    [message] = [m for m in mailoutbox if m.to == [coordinator.email]]
    assert f"{draft.participant.label} {draft.reference}" in message.body
    assert f"/deviations/{draft.pk}/" in message.body
    assert "1 deviation draft to describe" in message.subject


def test_a_site_holiday_is_not_a_business_day(draft, site, coordinator):
    site.holidays = ["2026-01-26"]
    site.save()

    scan(site, FIFTH_BUSINESS_DAY + days(1))
    assert not [r for r in digest_rows(coordinator) if r.context.get("deviations")]

    scan(site, FIFTH_BUSINESS_DAY + days(2))
    assert [r.context["deviations"] for r in digest_rows(coordinator)][-1] == [draft.pk]


def test_a_coordinator_who_takes_one_email_per_item_gets_the_drafts_in_a_digest(
    draft, site, coordinator
):
    per_item = make_user("coord-items", StaffRole.COORDINATOR, [site])
    per_item.staff_profile.reminder_mode = ReminderMode.PER_ITEM
    per_item.staff_profile.save()

    scan(site, FIFTH_BUSINESS_DAY + days(1))

    [row] = digest_rows(per_item)
    assert row.context == {
        "items": [],
        "day": str(FIFTH_BUSINESS_DAY + days(1)),
        "deviations": [draft.pk],
    }


def test_a_draft_opened_before_8_leaves_the_digest_and_an_empty_digest_is_cancelled(
    draft, site, coordinator, mailoutbox
):
    day = FIFTH_BUSINESS_DAY + days(1)
    scan(site, day)
    schedule_services.deviation_edit(draft, by=coordinator, description="Participant had flu.")
    schedule_services.deviation_open(draft, by=coordinator)

    services.outbox_deliver_due(now=local(day, 8, site.time_zone))

    [row] = digest_rows(coordinator)
    assert row.context["items"] == []  # no visit reminder that day: the drafts were all of it
    assert row.status == OutboxStatus.CANCELLED
    assert row.cancelled_reason == "the deviation drafts listed are no longer drafts"
    assert not [m for m in mailoutbox if draft.reference in m.body]


def test_another_sites_coordinator_is_not_told(draft, site, site2):
    berlin_coordinator = make_user("coord-berlin", StaffRole.COORDINATOR, [site2])

    scan(site, FIFTH_BUSINESS_DAY + days(2))

    assert not digest_rows(berlin_coordinator).exists()
