"""Visit reminders: on the right days at 08:00 site time (across daylight-saving changes), as a
daily digest or one email per item, and cancelled or recomputed when the visit changes."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import ReminderMode, StaffRole
from schedule import services as schedule_services
from schedule.models import Visit
from tests.support import PASSWORD, UTC, all_met, consent, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")


def aph_visit_with_target(site, coordinator, target: dt.date) -> Visit:
    """A participant whose leukapheresis visit (target C0 + 28) falls on `target`."""
    consented = target - dt.timedelta(days=28)
    with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, consented)
    return participant.visits.get(definition__code="APH")


def run_hourly(start: dt.datetime, end: dt.datetime, mailoutbox) -> list[tuple[dt.datetime, str]]:
    """Run the hourly reminder scan and the delivery job every hour from start to end (UTC), as
    beat would; return (instant sent, subject) of each email sent."""
    sent = []
    moment = start
    while moment <= end:
        with time_machine.travel(moment, tick=False):
            services.reminders_scan(now=moment)
            before = len(mailoutbox)
            services.outbox_deliver_due(now=moment)
            sent += [(moment, m.subject) for m in mailoutbox[before:]]
        moment += dt.timedelta(hours=1)
    return sent


@pytest.mark.parametrize(
    "tz, target, expected_utc",
    [
        # New York: DST starts Sun 8 Mar 2026. 7 days before in EST (UTC-5), 1 day before in EDT.
        (
            "America/New_York",
            dt.date(2026, 3, 9),
            [dt.datetime(2026, 3, 2, 13, tzinfo=UTC), dt.datetime(2026, 3, 8, 12, tzinfo=UTC)],
        ),
        # New York: DST ends Sun 1 Nov 2026. EDT (UTC-4) then EST on the change day itself.
        (
            "America/New_York",
            dt.date(2026, 11, 2),
            [dt.datetime(2026, 10, 26, 12, tzinfo=UTC), dt.datetime(2026, 11, 1, 13, tzinfo=UTC)],
        ),
        # Berlin: summer time starts Sun 29 Mar 2026. CET (UTC+1), then CEST (UTC+2).
        (
            "Europe/Berlin",
            dt.date(2026, 3, 30),
            [dt.datetime(2026, 3, 23, 7, tzinfo=UTC), dt.datetime(2026, 3, 29, 6, tzinfo=UTC)],
        ),
        # Berlin: summer time ends Sun 25 Oct 2026 (Europe changes in October, not November).
        (
            "Europe/Berlin",
            dt.date(2026, 10, 26),
            [dt.datetime(2026, 10, 19, 6, tzinfo=UTC), dt.datetime(2026, 10, 25, 7, tzinfo=UTC)],
        ),
    ],
)
def test_reminders_go_out_7_and_1_days_before_at_0800_site_time_across_dst(
    protocol, site, site2, tz, target, expected_utc, mailoutbox
):
    the_site = site if site.time_zone == tz else site2
    coordinator = make_user("coord-x", StaffRole.COORDINATOR, [the_site])
    visit = aph_visit_with_target(the_site, coordinator, target)
    start = dt.datetime.combine(target - dt.timedelta(days=9), dt.time(0), tzinfo=UTC)
    end = dt.datetime.combine(target, dt.time(23), tzinfo=UTC)

    sent = run_hourly(start, end, mailoutbox)

    assert [when for when, _ in sent] == expected_utc
    for when in expected_utc:
        assert when.astimezone(the_site.tz).time() == dt.time(8, 0)
    assert [m.to for m in mailoutbox] == [[coordinator.email]] * 2
    label = visit.participant.label
    assert f"{label} APH" in mailoutbox[0].body and "in 7 days" in mailoutbox[0].body
    assert "in 1 day " in mailoutbox[1].body
    rows = OutboxEmail.objects.filter(status=OutboxStatus.SENT)
    assert sorted(r.send_after for r in rows) == expected_utc


def test_window_closing_tomorrow_is_reminded_on_a_visit_not_yet_done(
    protocol, site, coordinator, mailoutbox
):
    # SCR: target C0, window 0/+14, so the window closes on C0 + 14 and is reminded on C0 + 13.
    consented = dt.date(2026, 5, 4)
    with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, consented)
    scr = participant.visits.get(definition__code="SCR")
    day = scr.window_end - dt.timedelta(days=1)
    at_8 = local(day, 8, site.time_zone)

    services.reminders_scan(now=at_8 - dt.timedelta(hours=3))
    services.outbox_deliver_due(now=at_8 - dt.timedelta(minutes=1))
    assert mailoutbox == []
    services.outbox_deliver_due(now=at_8)

    [message] = mailoutbox
    assert "window closes tomorrow" in message.subject
    assert f"{participant.label} SCR" in message.subject
    assert f"/participants/{participant.pk}/" in message.body


def test_one_digest_per_coordinator_per_day_unless_they_choose_one_email_per_item(
    protocol, site, coordinator, mailoutbox
):
    per_item = make_user("coord-items", StaffRole.COORDINATOR, [site])
    per_item.staff_profile.reminder_mode = ReminderMode.PER_ITEM
    per_item.staff_profile.save()
    target = dt.date(2026, 6, 15)
    first = aph_visit_with_target(site, coordinator, target)
    second = aph_visit_with_target(site, coordinator, target)
    at_8 = local(target - dt.timedelta(days=7), 8, site.time_zone)

    services.reminders_scan(now=at_8 - dt.timedelta(hours=7))
    services.reminders_scan(now=at_8 - dt.timedelta(hours=6))  # hourly: nothing new
    services.outbox_deliver_due(now=at_8)

    digests = [m for m in mailoutbox if m.to == [coordinator.email]]
    items = [m for m in mailoutbox if m.to == [per_item.email]]
    assert len(digests) == 1 and len(items) == 2
    for visit in (first, second):
        assert f"{visit.participant.label} APH" in digests[0].body
    assert "2 items" in digests[0].subject
    assert {m.subject.split()[1] for m in items} == {
        first.participant.label,
        second.participant.label,
    }
    assert digests[0].alternatives and "<a href=" in digests[0].alternatives[0][0]


def test_item_found_after_the_digest_went_out_is_sent_on_its_own(
    protocol, site, coordinator, mailoutbox
):
    target = dt.date(2026, 6, 15)
    aph_visit_with_target(site, coordinator, target)
    day = target - dt.timedelta(days=7)
    services.reminders_scan(now=local(day, 7, site.time_zone))
    services.outbox_deliver_due(now=local(day, 8, site.time_zone))
    late = aph_visit_with_target(site, coordinator, target)  # registered later that day

    services.reminders_scan(now=local(day, 14, site.time_zone))
    services.outbox_deliver_due(now=local(day, 14, site.time_zone))
    services.reminders_scan(now=local(day, 15, site.time_zone))
    services.outbox_deliver_due(now=local(day, 15, site.time_zone))

    assert len(mailoutbox) == 2
    assert f"{late.participant.label} APH" in mailoutbox[1].subject


def test_reminder_of_a_visit_done_before_0800_is_cancelled_with_the_reason(
    protocol, site, coordinator, mailoutbox
):
    consented = dt.date(2026, 5, 4)
    with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, consented)
    scr = participant.visits.get(definition__code="SCR")
    day = scr.window_end - dt.timedelta(days=1)
    services.reminders_scan(now=local(day, 1, site.time_zone))
    assert OutboxEmail.objects.filter(status=OutboxStatus.PENDING).count() == 1

    with time_machine.travel(local(day, 7, site.time_zone), tick=False):
        schedule_services.visit_record_done(scr, actual_date=day, by=coordinator)
    services.outbox_deliver_due(now=local(day, 8, site.time_zone))

    assert mailoutbox == []
    row = OutboxEmail.objects.get()
    assert row.status == OutboxStatus.CANCELLED
    assert row.cancelled_reason == f"{participant.label} SCR is done"


def test_reanchored_visit_gets_a_new_reminder_and_the_stale_one_is_cancelled(
    protocol, site, coordinator, investigator, mailoutbox
):
    coordinator.staff_profile.reminder_mode = ReminderMode.PER_ITEM
    coordinator.staff_profile.save()
    consented = dt.date(2026, 1, 5)
    with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, consented)
    with time_machine.travel(local(dt.date(2026, 1, 12), 12, site.time_zone), tick=False):
        schedule_services.participant_enroll(
            participant,
            answers=all_met(),
            assessed_on=dt.date(2026, 1, 12),
            signed_off_by=investigator,
            by=investigator,
            password=PASSWORD,
        )
        schedule_services.first_infusion_plan(
            participant, planned_on=dt.date(2026, 2, 20), by=coordinator
        )
    participant.refresh_from_db()  # enrolment gave a study id
    inf2 = participant.visits.get(definition__code="INF2")
    assert inf2.target_date == dt.date(2026, 2, 27)
    day = dt.date(2026, 2, 20)  # 7 days before INF2
    services.reminders_scan(now=local(day, 2, site.time_zone))
    stale = OutboxEmail.objects.get(visit=inf2)
    assert stale.about_date == dt.date(2026, 2, 27)

    with time_machine.travel(local(day, 3, site.time_zone), tick=False):
        schedule_services.first_infusion_plan(
            participant, planned_on=dt.date(2026, 2, 24), by=coordinator, reason="Product late"
        )
    services.reminders_scan(now=local(day, 4, site.time_zone))
    stale.refresh_from_db()
    assert stale.status == OutboxStatus.CANCELLED
    assert stale.cancelled_reason == f"{participant.label} INF2 moved to 2026-03-03"

    # The new date (3 Mar) is reminded 7 days before, on 24 Feb.
    services.reminders_scan(now=local(dt.date(2026, 2, 24), 2, site.time_zone))
    fresh = OutboxEmail.objects.get(visit=inf2, status=OutboxStatus.PENDING)
    assert fresh.about_date == dt.date(2026, 3, 3)
    assert fresh.dedup_key != stale.dedup_key


def test_withdrawal_cancels_pending_reminders(protocol, site, coordinator, mailoutbox):
    target = dt.date(2026, 6, 15)
    visit = aph_visit_with_target(site, coordinator, target)
    day = target - dt.timedelta(days=7)
    services.reminders_scan(now=local(day, 1, site.time_zone))
    with time_machine.travel(local(day, 2, site.time_zone), tick=False):
        schedule_services.participant_withdraw(
            visit.participant,
            on=day,
            reason="Moved away",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    result = services.reminders_scan(now=local(day, 3, site.time_zone))
    services.outbox_deliver_due(now=local(day, 9, site.time_zone))

    assert mailoutbox == []
    assert result.cancelled == 1
    assert OutboxEmail.objects.get().status == OutboxStatus.CANCELLED


def test_reminder_days_come_from_the_setting(protocol, site, coordinator, settings, mailoutbox):
    settings.REMINDER_DAYS_BEFORE = [3]
    target = dt.date(2026, 6, 15)
    aph_visit_with_target(site, coordinator, target)
    for days in (7, 3, 1):
        moment = local(target - dt.timedelta(days=days), 9, site.time_zone)
        services.reminders_scan(now=moment)
        services.outbox_deliver_due(now=moment)
    [message] = mailoutbox
    assert "in 3 days" in message.body


def test_send_reminders_command_prints_what_it_did(protocol, site, coordinator, mailoutbox):
    target = dt.date(2026, 6, 15)
    aph_visit_with_target(site, coordinator, target)
    moment = local(target - dt.timedelta(days=1), 8, site.time_zone).astimezone(UTC)

    from io import StringIO

    out = StringIO()
    call_command("send_reminders", "--now", moment.isoformat().replace("+00:00", "Z"), stdout=out)

    assert "1 reminder email(s) queued" in out.getvalue()
    assert "1 sent" in out.getvalue()
    assert len(mailoutbox) == 1
    assert OutboxEmail.objects.get().kind == OutboxKind.REMINDER_DIGEST


def test_send_reminders_command_refuses_a_time_without_offset(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs a UTC offset"):
        call_command("send_reminders", "--now", "2026-03-08T08:00:00")


def test_an_hourly_scan_with_nothing_new_asks_nothing_per_coordinator(
    protocol, site, coordinator, django_assert_max_num_queries
):
    """The steady state (every hour, the day's rows made already): the rows are read at once and
    left alone, whether a coordinator takes digests or one email per item."""
    target = dt.date(2026, 6, 15)
    for _ in range(2):
        aph_visit_with_target(site, coordinator, target)
    at_7 = local(target - dt.timedelta(days=7), 7, site.time_zone)

    def rows():
        return list(OutboxEmail.objects.order_by("pk").values_list("pk", "subject", "context"))

    services.reminders_scan(now=at_7)
    with CaptureQueriesContext(connection) as one_coordinator:
        services.reminders_scan(now=at_7 + dt.timedelta(hours=1))
    for n in range(4):
        user = make_user(f"coord-{n}", StaffRole.COORDINATOR, [site])
        if n % 2:
            user.staff_profile.reminder_mode = ReminderMode.PER_ITEM
            user.staff_profile.save()
    services.reminders_scan(now=at_7 + dt.timedelta(hours=1))  # their rows
    assert OutboxEmail.objects.count() == 3 + 2 * 2  # a digest each for 3, 2 items each for 2

    before = rows()
    with django_assert_max_num_queries(len(one_coordinator.captured_queries)):
        result = services.reminders_scan(now=at_7 + dt.timedelta(hours=2))
    assert (result.created, result.digest_items_added, result.cancelled) == (0, 0, 0)
    assert rows() == before


def test_the_pending_rows_a_scan_reads_are_not_read_again_to_find_what_exists(
    protocol, site, coordinator
):
    """Before the digests go out, the steady state finds each digest among the pending rows it
    has just re-checked; once a digest is sent, it is asked for by its key, and nothing new is
    made either way."""
    target = dt.date(2026, 6, 15)
    aph_visit_with_target(site, coordinator, target)
    at_7 = local(target - dt.timedelta(days=7), 7, site.time_zone)
    services.reminders_scan(now=at_7)
    digest = OutboxEmail.objects.get(kind=OutboxKind.REMINDER_DIGEST)

    def by_key_reads(now) -> tuple[int, tuple]:
        with CaptureQueriesContext(connection) as queries:
            result = services.reminders_scan(now=now)
        reads = sum('"dedup_key" IN' in q["sql"] for q in queries.captured_queries)
        return reads, (result.created, result.digest_items_added, result.cancelled)

    assert by_key_reads(at_7 + dt.timedelta(hours=1)) == (0, (0, 0, 0))
    OutboxEmail.objects.filter(pk=digest.pk).update(status=OutboxStatus.SENT)
    assert by_key_reads(at_7 + dt.timedelta(hours=2)) == (1, (0, 0, 0))
    assert OutboxEmail.objects.count() == 1


def test_each_site_is_read_for_its_own_reminder_days_only(protocol, site, site2, coordinator):
    """Sydney's today is a day ahead of New York's for most of the day: a visit is a candidate
    on its own site's dates, not on another site's."""
    from notifications import reminder_selectors as selectors

    sydney = site2
    sydney.time_zone = "Australia/Sydney"
    sydney.save()
    make_user("coord-syd", StaffRole.COORDINATOR, [sydney])
    ny_today = dt.date(2026, 6, 8)
    now = local(ny_today, 20, site.time_zone)  # 10:00 on 9 June in Sydney
    assert now.astimezone(sydney.tz).date() == ny_today + dt.timedelta(days=1)
    in_7_ny = aph_visit_with_target(site, coordinator, ny_today + dt.timedelta(days=7))
    sydney_coord = make_user("coord-syd-2", StaffRole.COORDINATOR, [sydney])
    in_7_sydney = aph_visit_with_target(sydney, sydney_coord, ny_today + dt.timedelta(days=8))
    # 7 days after New York's today, but 6 after Sydney's: not a reminder day there.
    not_yet = aph_visit_with_target(sydney, sydney_coord, ny_today + dt.timedelta(days=7))

    dates = {
        s.pk: ({now.astimezone(s.tz).date() + dt.timedelta(days=n) for n in (1, 7)}, set())
        for s in (site, sydney)
    }
    read = {v.pk: v for v in selectors.reminder_candidates(dates)}

    assert in_7_ny.pk in read and in_7_sydney.pk in read
    assert not_yet.pk not in read
    assert (read[in_7_sydney.pk].site_id, read[in_7_sydney.pk].target_date) == (
        sydney.pk,
        in_7_sydney.target_date,
    )
    # What a reminder shows of it, read as a plain row: the model's own label and code.
    shown = selectors.reminder_visits([in_7_sydney.pk])[in_7_sydney.pk]
    assert (shown.label, shown.code, shown.site_code, shown.tz) == (
        in_7_sydney.participant.label,
        in_7_sydney.code,
        "S02",
        sydney.tz,
    )


def test_a_reminder_row_whose_visit_left_the_candidates_is_still_checked_and_cancelled(
    protocol, site, coordinator
):
    """The visits of today's candidates are re-used by the stale check; a visit done since
    is no candidate any more and is read on its own, and its reminder is cancelled."""
    target = dt.date(2026, 6, 15)
    visit = aph_visit_with_target(site, coordinator, target)
    at_6 = local(target - dt.timedelta(days=1), 6, site.time_zone)
    services.reminders_scan(now=at_6)
    [row] = OutboxEmail.objects.filter(status=OutboxStatus.PENDING)
    Visit.objects.filter(pk=visit.pk).update(
        status="done", actual_date=target - dt.timedelta(days=1)
    )

    result = services.reminders_scan(now=at_6 + dt.timedelta(hours=1))

    row.refresh_from_db()
    assert row.status == OutboxStatus.CANCELLED
    assert result.cancelled == 1
    assert f"{visit.participant.label} APH is done" in row.cancelled_reason


@pytest.mark.parametrize("mode", [ReminderMode.DIGEST, ReminderMode.PER_ITEM])
def test_a_visit_deleted_after_the_candidates_were_read_is_not_reminded_and_stops_nothing(
    protocol, site, coordinator, monkeypatch, mode
):
    from notifications import reminder_selectors as selectors

    coordinator.staff_profile.reminder_mode = mode
    coordinator.staff_profile.save()
    target = dt.date(2026, 6, 15)
    gone, kept = (aph_visit_with_target(site, coordinator, target) for _ in range(2))
    read = selectors.reminder_candidates

    def read_then_delete(dates):
        candidates = read(dates)
        Visit.objects.filter(pk=gone.pk).delete()  # e.g. a demo refresh, meanwhile
        return candidates

    monkeypatch.setattr(selectors, "reminder_candidates", read_then_delete)
    services.reminders_scan(now=local(target - dt.timedelta(days=7), 6, site.time_zone))

    visits = [i["visit"] for row in OutboxEmail.objects.all() for i in row.context.get("items", [])]
    visits += [
        row.context["item"]["visit"]
        for row in OutboxEmail.objects.exclude(kind=OutboxKind.REMINDER_DIGEST)
    ]
    assert visits == [kept.pk]
