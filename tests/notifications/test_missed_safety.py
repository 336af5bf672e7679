"""Safety items recorded as missed (visit marked missed, or closed as missed when the participant
leaves the study) are an important protocol deviation: the overdue scan emails the site's
coordinators and investigators and the medical monitors, once per visit, naming the items."""

import datetime as dt

import pytest
import time_machine

from notifications import selectors, services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import StaffRole
from schedule import services as schedule_services
from schedule.models import AssessmentStatus
from tests.support import Journey, days, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR)


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.all_infusions()
    return j


def safety_codes(visit) -> list[str]:
    return sorted(
        visit.assessments.filter(is_safety=True).values_list("definition__code", flat=True)
    )


def listed_codes(message) -> list[str]:
    return sorted(
        line[2:].split()[0] for line in message.body.splitlines() if line.startswith("- ")
    )


def test_a_visit_marked_missed_alerts_site_staff_and_the_monitor_once_naming_its_safety_items(
    journey, site, coordinator, investigator, manager, monitor, mailoutbox
):
    eot = journey.visit("EOT")
    with journey.on(eot.window_start):
        schedule_services.visit_mark_missed(eot, reason="no show", by=coordinator)
    assert safety_codes(eot)
    at = local(eot.window_end + days(3), 9, site.time_zone)

    with time_machine.travel(at, tick=False):
        first = services.overdue_scan(now=at)
        services.outbox_deliver_due(now=at)
        again = services.overdue_scan(now=at + dt.timedelta(minutes=15))

    missed_mail = [m for m in mailoutbox if "MISSED" in m.subject]
    assert first.missed == len(safety_codes(eot))
    assert again.missed == 0 and again.emails == 0
    assert sorted(m.to[0] for m in missed_mail) == sorted(
        [coordinator.email, investigator.email, monitor.email]
    )
    for message in missed_mail:
        assert "MISSED" in message.subject and "important deviation" in message.subject
        assert f"{journey.p.label} EOT" in message.subject
        assert listed_codes(message) == safety_codes(eot)
        assert "important protocol deviation" in message.body
        assert journey.p.screening_number not in message.body.replace(journey.p.label, "")
    rows = OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED)
    assert {r.visit_id for r in rows} == {eot.pk}
    keys = set(rows.values_list("dedup_key", flat=True))
    first_item = min(a.pk for a in eot.assessments.filter(is_safety=True))
    assert keys == {
        f"missed:v{eot.pk}:a{first_item}:u{u.pk}" for u in (coordinator, investigator, monitor)
    }


def test_items_flagged_overdue_then_visit_marked_missed_are_not_lost(
    journey, site, coordinator, investigator, mailoutbox
):
    m2 = journey.visit("M2")
    due = m2.assessments.filter(is_safety=True).first().due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=5))  # rows queued, not sent
    assert m2.assessments.filter(is_safety=True, overdue_flagged_at__isnull=True).count() == 0
    with journey.on(m2.window_end + days(1), hour=10):
        schedule_services.visit_mark_missed(m2, reason="moved away for a week", by=coordinator)
    at = local(m2.window_end + days(1), 11, site.time_zone)

    with time_machine.travel(at, tick=False):
        services.outbox_deliver_due(now=at)  # the overdue alerts no longer hold: cancelled
        result = services.overdue_scan(now=at)
        services.outbox_deliver_due(now=at)
        later = services.overdue_scan(now=due + dt.timedelta(hours=49))

    overdue_rows = OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_OVERDUE, visit=m2)
    assert len(overdue_rows) == 2
    assert {r.status for r in overdue_rows} == {OutboxStatus.CANCELLED}
    assert all("recorded as missed" in r.cancelled_reason for r in overdue_rows)
    assert result.missed >= len(safety_codes(m2))
    assert later.missed == 0
    assert not OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_ESCALATION, visit=m2).exists()
    about_m2 = [m for m in mailoutbox if f"{journey.p.label} M2" in m.subject]
    assert sorted(m.to[0] for m in about_m2) == sorted([coordinator.email, investigator.email])
    assert all("MISSED" in m.subject for m in about_m2)
    assert all(listed_codes(m) == safety_codes(m2) for m in about_m2)


def test_visits_closed_as_missed_on_withdrawal_are_alerted(journey, site, coordinator, mailoutbox):
    m2 = journey.visit("M2")
    withdraw_on = m2.window_end + days(5)
    with journey.on(withdraw_on):
        schedule_services.participant_withdraw(
            journey.p,
            on=withdraw_on,
            reason="moved abroad",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    m2.refresh_from_db()
    assert m2.status == "missed"
    at = local(withdraw_on, 20, site.time_zone)

    services.overdue_scan(now=at)

    rows = OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED, visit=m2)
    assert len(rows) == 2  # coordinator and investigator
    assert sorted(rows[0].context["assessments"]) == sorted(
        m2.assessments.filter(is_safety=True).values_list("pk", flat=True)
    )


def test_missed_longer_ago_than_the_lookback_is_not_alerted_on_a_first_run(
    journey, site, coordinator
):
    eot = journey.visit("EOT")
    with journey.on(eot.window_start):
        schedule_services.visit_mark_missed(eot, reason="no show", by=coordinator)
    marked = local(eot.window_start, 18, site.time_zone)
    too_late = marked + selectors.MISSED_LOOKBACK + dt.timedelta(minutes=1)
    services.overdue_scan(now=too_late)
    assert not OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED, visit=eot).exists()
    services.overdue_scan(now=marked + dt.timedelta(days=1))
    assert OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED, visit=eot).exists()


def test_an_alert_whose_items_are_no_longer_missed_is_cancelled(
    journey, site, coordinator, mailoutbox
):
    eot = journey.visit("EOT")
    with journey.on(eot.window_start):
        schedule_services.visit_mark_missed(eot, reason="no show", by=coordinator)
    at = local(eot.window_start, 20, site.time_zone)
    services.overdue_scan(now=at)
    eot.assessments.filter(status=AssessmentStatus.MISSED).update(status=AssessmentStatus.PENDING)
    services.outbox_deliver_due(now=at)
    assert not [m for m in mailoutbox if "MISSED" in m.subject]
    rows = OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED)
    assert len(rows) == 2
    assert {r.cancelled_reason for r in rows} == {
        "the assessments are no longer recorded as missed"
    }


def test_nobody_at_the_site_falls_back_to_the_study_managers(
    protocol, site2, coordinator, investigator, manager, caplog
):
    signer = make_user("inv-s02", StaffRole.INVESTIGATOR, [site2])
    j = Journey(site2, signer, signer)  # S02's only staff member records and signs off
    j.all_infusions()
    signer.email = ""  # ...and cannot be emailed
    signer.save()
    eot = j.visit("EOT")
    with j.on(eot.window_start):
        schedule_services.visit_mark_missed(eot, reason="no show", by=signer)
    result = services.overdue_scan(now=local(eot.window_start, 20, site2.time_zone))
    assert result.missed > 0
    assert set(
        OutboxEmail.objects.filter(kind=OutboxKind.SAFETY_MISSED).values_list(
            "recipient", flat=True
        )
    ) == {manager.pk}
    assert "site S02 has no active coordinator or investigator" in caplog.text


def test_an_item_recorded_not_done_is_alerted_and_the_rest_of_its_visit_missed_later_too(
    journey, site, coordinator, investigator, mailoutbox
):
    eot = journey.visit("EOT")
    first, *rest = eot.assessments.filter(is_safety=True).order_by("pk")
    with journey.on(eot.window_start, hour=10):
        schedule_services.assessment_not_done(
            first, reason="sample haemolysed", not_applicable=False, by=coordinator
        )
    services.overdue_scan(now=local(eot.window_start, 11, site.time_zone))
    with journey.on(eot.window_start, hour=12):
        schedule_services.visit_mark_missed(eot, reason="left before the rest", by=coordinator)
    at = local(eot.window_start, 13, site.time_zone)
    with time_machine.travel(at, tick=False):
        services.overdue_scan(now=at)
        services.outbox_deliver_due(now=at)

    to_coordinator = [
        m for m in mailoutbox if "MISSED" in m.subject and m.to == [coordinator.email]
    ]
    assert [listed_codes(m) for m in to_coordinator] in (
        [[first.definition.code], sorted(a.definition.code for a in rest)],
        [sorted(a.definition.code for a in rest), [first.definition.code]],
    )
