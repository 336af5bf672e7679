"""Notifications a coordinator controls (issue 13, item 4): "My notifications" (a digest or one
email per item, which reminder days), their own notification log (sent, queued, cancelled and
why; paginated), the digest footer's link to it, and a coordinator of two sites getting each
site's reminders at 08:00 in that site's zone."""

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from notifications import services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from notifications.pages import LOG_PAGE_SIZE
from participants.models import ReminderMode, StaffRole
from participants.staff import notifications_set
from tests.support import UTC, consent, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")


def aph_with_target(site, coordinator, target: dt.date):
    """A participant whose leukapheresis visit (target C0 + 28) falls on `target`."""
    consented = target - dt.timedelta(days=28)
    with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, consented)
    return participant.visits.get(definition__code="APH")


def scan(moment: dt.datetime):
    with time_machine.travel(moment, tick=False):
        return services.reminders_scan(now=moment)


# --- Choosing -------------------------------------------------------------------------------------


def test_the_choices_are_saved_and_refused_by_field(coordinator):
    notifications_set(coordinator, reminder_mode=ReminderMode.PER_ITEM, reminder_days=[3, 7])
    coordinator.staff_profile.refresh_from_db()
    assert coordinator.staff_profile.reminder_mode == ReminderMode.PER_ITEM
    assert coordinator.staff_profile.reminder_days == [7, 3]

    with pytest.raises(ValidationError) as refused:
        notifications_set(coordinator, reminder_mode="weekly", reminder_days=[])
    assert set(refused.value.message_dict) == {"reminder_mode", "reminder_days"}
    with pytest.raises(ValidationError, match="Choose at least one day among 14, 7, 3, 2, 1"):
        notifications_set(coordinator, reminder_mode=ReminderMode.DIGEST, reminder_days=[5])


def test_reminders_come_only_on_the_days_chosen(protocol, site, coordinator):
    target = dt.date(2026, 4, 20)
    aph_with_target(site, coordinator, target)
    notifications_set(coordinator, reminder_mode=ReminderMode.PER_ITEM, reminder_days=[3])
    for n in (7, 3, 1):
        scan(local(target - dt.timedelta(days=n), 6, site.time_zone))
    days = sorted(
        r.context["item"]["days"]
        for r in OutboxEmail.objects.filter(recipient=coordinator, kind=OutboxKind.VISIT_DUE)
    )
    assert days == [3]


def test_without_a_choice_the_studys_days_apply(protocol, site, coordinator):
    target = dt.date(2026, 4, 20)
    aph_with_target(site, coordinator, target)
    coordinator.staff_profile.reminder_mode = ReminderMode.PER_ITEM
    coordinator.staff_profile.save()
    for n in (7, 3, 1):
        scan(local(target - dt.timedelta(days=n), 6, site.time_zone))
    days = sorted(
        r.context["item"]["days"] for r in OutboxEmail.objects.filter(recipient=coordinator)
    )
    assert days == [1, 7]


# --- Two sites, two zones ---------------------------------------------------------------------------


def test_a_coordinator_of_two_sites_gets_each_sites_digest_at_0800_in_its_zone(
    protocol, site, site2, coordinator
):
    # site: New York, site2: Berlin. Both visits 7 days ahead of 2 Jun 2026 (EDT, CEST).
    both = make_user("coordinator-both", StaffRole.COORDINATOR, [site, site2])
    aph_with_target(site, coordinator, dt.date(2026, 6, 9))
    aph_with_target(site2, both, dt.date(2026, 6, 9))
    scan(dt.datetime(2026, 6, 2, 5, tzinfo=UTC))  # 2 June at both sites (01:00 in New York)

    digests = OutboxEmail.objects.filter(recipient=both, kind=OutboxKind.REMINDER_DIGEST)
    send_after = sorted(d.send_after for d in digests)
    assert send_after == [
        dt.datetime(2026, 6, 2, 6, tzinfo=UTC),  # 08:00 in Berlin
        dt.datetime(2026, 6, 2, 12, tzinfo=UTC),  # 08:00 in New York
    ]
    assert sorted(len(d.context["items"]) for d in digests) == [1, 1]
    # A one-site coordinator keeps the one digest a day.
    assert (
        OutboxEmail.objects.filter(recipient=coordinator, kind=OutboxKind.REMINDER_DIGEST).count()
        == 1
    )


def test_a_second_scan_adds_nothing_to_the_two_digests(protocol, site, site2, coordinator):
    both = make_user("coordinator-both", StaffRole.COORDINATOR, [site, site2])
    aph_with_target(site, coordinator, dt.date(2026, 6, 9))
    aph_with_target(site2, both, dt.date(2026, 6, 9))
    scan(dt.datetime(2026, 6, 2, 5, tzinfo=UTC))
    result = scan(dt.datetime(2026, 6, 2, 5, 30, tzinfo=UTC))
    assert (result.created, result.digest_items_added) == (0, 0)
    assert OutboxEmail.objects.filter(recipient=both).count() == 2


# --- The pages ---------------------------------------------------------------------------------------


def test_my_notifications_page_saves_the_choice(client, coordinator, django_assert_max_num_queries):
    client.force_login(coordinator)
    url = reverse("notifications:settings")
    with django_assert_max_num_queries(8):
        page = client.get(url)
    assert page.status_code == 200
    assert 'value="digest" ' in page.content.decode()
    done = client.post(url, {"reminder_mode": "per_item", "reminder_days": ["14", "1"]})
    assert done.status_code == 302
    coordinator.staff_profile.refresh_from_db()
    assert coordinator.staff_profile.reminder_days == [14, 1]

    refused = client.post(url, {"reminder_mode": "per_item"})
    assert refused.status_code == 200
    assert re.search(
        r'id="id_reminder_days_error">Choose at least one day', refused.content.decode()
    )


def _row(user, status, **extra):
    n = OutboxEmail.objects.count()
    return OutboxEmail.objects.create(
        recipient=user,
        to_email=user.email or "x@example.org",
        kind=OutboxKind.VISIT_DUE,
        subject=extra.pop("subject", f"reminder {n}"),
        dedup_key=f"test:{n}",
        status=status,
        send_after=dt.datetime(2026, 3, 10, 12, tzinfo=UTC),
        **extra,
    )


def test_the_log_shows_my_emails_only_with_why_they_were_cancelled(
    client, coordinator, site, django_assert_max_num_queries
):
    other = make_user("coordinator-other", StaffRole.COORDINATOR, [site])
    _row(coordinator, OutboxStatus.SENT, subject="sent to me")
    _row(coordinator, OutboxStatus.PENDING, subject="queued for me")
    _row(
        coordinator,
        OutboxStatus.CANCELLED,
        subject="cancelled",
        cancelled_reason="S01-001 APH is done",
    )
    _row(other, OutboxStatus.SENT, subject="someone else's")
    client.force_login(coordinator)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("notifications:log")).content.decode()
    assert "sent to me" in page and "queued for me" in page and "goes out 2026-03-10 12:00" in page
    assert "S01-001 APH is done" in page
    assert "someone else" not in page
    only = client.get(reverse("notifications:log"), {"status": "cancelled"}).content.decode()
    assert "S01-001 APH is done" in only and "sent to me" not in only


def test_the_log_is_paginated(client, coordinator):
    for _ in range(LOG_PAGE_SIZE + 1):
        _row(coordinator, OutboxStatus.SENT)
    client.force_login(coordinator)
    first = client.get(reverse("notifications:log")).content.decode()
    second = client.get(reverse("notifications:log"), {"page": 2}).content.decode()
    assert first.count('<tr class="outbox-') == LOG_PAGE_SIZE
    assert second.count('<tr class="outbox-') == 1
    assert "Page 2 of 2" in second


def test_the_digest_footer_links_to_a_page_the_coordinator_may_open(
    protocol, site, coordinator, client, mailoutbox
):
    aph_with_target(site, coordinator, dt.date(2026, 4, 20))
    moment = local(dt.date(2026, 4, 13), 9, site.time_zone)
    with time_machine.travel(moment, tick=False):
        services.reminders_scan(now=moment)
        services.outbox_deliver_due(now=moment)
    [email] = mailoutbox
    link = re.search(r"My notifications: (\S+)", email.body).group(1)
    path = link.removeprefix(settings.SITE_URL)
    assert path == reverse("notifications:settings")
    html = email.alternatives[0][0]
    assert f'href="{link}"' in html
    client.force_login(coordinator)
    assert client.get(path).status_code == 200
