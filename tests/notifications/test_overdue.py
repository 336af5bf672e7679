"""Overdue safety assessments: flagged once by an indexed scan, emailed to the site's coordinators
and investigator, escalated to the study manager 48 hours later, and cleared by a result."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import selectors, services, tasks
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from notifications.selectors import heartbeat_problem
from participants.models import StaffRole
from schedule import services as schedule_services
from schedule.models import Assessment, AssessmentStatus, Deviation
from tests.support import consent, coordinator_at, local, make_user, record_result

pytestmark = pytest.mark.usefixtures("memory_broker")

CONSENTED = dt.date(2026, 4, 6)


@pytest.fixture
def screening(protocol, site, coordinator, investigator, manager):
    """A participant in screening; SCR's safety items are due when its window closes."""
    with time_machine.travel(local(CONSENTED, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, CONSENTED)
    scr = participant.visits.get(definition__code="SCR")
    return participant, scr


def safety_of(visit):
    return list(visit.assessments.filter(is_safety=True).order_by("pk"))


def test_due_time_passed_with_no_result_is_flagged_once_and_emailed_to_site_staff(
    screening, coordinator, investigator, manager, mailoutbox
):
    participant, scr = screening
    safety = safety_of(scr)
    due = safety[0].due_at
    assert due == local(scr.window_end + dt.timedelta(days=1), 0, "America/New_York")

    before = services.overdue_scan(now=due - dt.timedelta(minutes=1))
    assert before.flagged == 0
    at = due + dt.timedelta(minutes=7)
    with time_machine.travel(at, tick=False):
        first = services.overdue_scan(now=at)
        services.outbox_deliver_due(now=at)
        again = services.overdue_scan(now=at + dt.timedelta(minutes=15))
        services.outbox_deliver_due(now=at + dt.timedelta(minutes=15))

    assert first.flagged == len(safety) and first.emails == 2
    assert again.flagged == 0 and again.emails == 0
    assert sorted(m.to[0] for m in mailoutbox) == sorted([coordinator.email, investigator.email])
    message = mailoutbox[0]
    assert f"{participant.label} SCR" in message.subject and "OVERDUE" in message.subject
    for a in safety:
        assert a.definition.code in message.body
    assert f"/participants/{participant.pk}/" in message.body
    assert f"/admin/schedule/visit/{scr.pk}/change/" in message.body
    flagged = {
        a.overdue_flagged_at for a in Assessment.objects.filter(pk__in=[a.pk for a in safety])
    }
    assert flagged == {at}


def test_still_overdue_48_hours_after_the_flag_is_escalated_to_the_study_manager_once(
    screening, manager, mailoutbox
):
    _, scr = screening
    due = safety_of(scr)[0].due_at
    flag_at = due + dt.timedelta(minutes=5)
    services.overdue_scan(now=flag_at)
    early = services.overdue_scan(now=flag_at + dt.timedelta(hours=47, minutes=59))
    assert early.escalated == 0

    late = flag_at + dt.timedelta(hours=48)
    with time_machine.travel(late, tick=False):
        escalation = services.overdue_scan(now=late)
        repeat = services.overdue_scan(now=late + dt.timedelta(minutes=15))
        services.outbox_deliver_due(now=late + dt.timedelta(minutes=15))

    assert escalation.escalated == len(safety_of(scr)) and escalation.emails == 1
    assert repeat.escalated == 0 and repeat.emails == 0
    [message] = [m for m in mailoutbox if m.to == [manager.email]]
    assert "ESCALATION" in message.subject and "48 h" in message.subject


def test_a_result_recorded_clears_the_flag_keeps_how_late_and_cancels_unsent_alerts(
    screening, coordinator, mailoutbox
):
    _, scr = screening
    safety = safety_of(scr)
    due = safety[0].due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=5))  # rows created, not yet sent
    done_at = due + dt.timedelta(hours=3)
    with time_machine.travel(done_at + dt.timedelta(minutes=1), tick=False):
        for a in safety:
            record_result(a, at=done_at, by=coordinator)
        services.outbox_deliver_due()
        result = services.overdue_scan(now=due + dt.timedelta(hours=49))

    assert mailoutbox == []
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.CANCELLED}
    assert result.escalated == 0
    a = Assessment.objects.get(pk=safety[0].pk)
    assert a.status == AssessmentStatus.DONE
    assert a.late_by == dt.timedelta(hours=3)
    assert not selectors.assessments_to_flag(due + dt.timedelta(days=9)).filter(pk=a.pk).exists()
    assert not selectors.assessments_to_escalate(due + dt.timedelta(days=9)).exists()


def test_only_still_overdue_items_are_listed_when_some_results_came_in(
    screening, coordinator, mailoutbox
):
    _, scr = screening
    safety = safety_of(scr)
    due = safety[0].due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=5))
    with time_machine.travel(due + dt.timedelta(hours=1), tick=False):
        record_result(safety[0], at=due + dt.timedelta(minutes=30), by=coordinator)
        services.outbox_deliver_due()
    body = mailoutbox[0].body
    listed = [line for line in body.splitlines() if line.startswith("- ")]
    assert len(listed) == len(safety) - 1
    assert not any(line.startswith(f"- {safety[0].definition.code} ") for line in listed)


def statements(captured) -> list[str]:
    return [
        q["sql"].split()[0] for q in captured.captured_queries if not q["sql"].startswith("INSERT")
    ]


def test_scan_is_a_fixed_number_of_queries_however_many_participants(
    protocol, site, coordinator, django_assert_max_num_queries
):
    for n in range(8):
        day = CONSENTED + dt.timedelta(days=n)
        with time_machine.travel(local(day, 12, site.time_zone), tick=False):
            consent(site, coordinator, day)
    quiet = local(CONSENTED + dt.timedelta(days=10), 9, site.time_zone)  # nothing due yet
    # The routine run: one query over the three scans' partial indexes (the stored due time,
    # never a loop over participants), no transaction, no lock, nothing written.
    with CaptureQueriesContext(connection) as queries:
        services.overdue_scan(now=quiet)
    [check] = [q["sql"] for q in queries.captured_queries]
    assert '"due_at" <=' in check and "UNION ALL" in check
    # When something is due, the lock (PostgreSQL), the flag, escalation and missed scans
    # under it, and the writes: as many queries for 1 participant as for 8.
    due = local(CONSENTED + dt.timedelta(days=60), 9, site.time_zone)
    with CaptureQueriesContext(connection) as flagging:
        result = services.overdue_scan(now=due)
    assert result.flagged > 0
    Assessment.objects.update(overdue_flagged_at=None)
    OutboxEmail.objects.all().delete()
    Deviation.objects.all().delete()
    for n in range(8, 16):
        day = CONSENTED + dt.timedelta(days=n)
        with time_machine.travel(local(day, 12, site.time_zone), tick=False):
            consent(site, coordinator, day)
    with CaptureQueriesContext(connection) as more:
        assert services.overdue_scan(now=due).flagged > result.flagged
    # Bulk INSERTs aside (SQLite splits one by its limit on parameters), the same queries.
    assert statements(more) == statements(flagging)


def test_other_sites_staff_are_not_told(protocol, site, site2, coordinator, mailoutbox):
    other = make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    with time_machine.travel(local(CONSENTED, 12, site.time_zone), tick=False):
        participant = consent(site, coordinator, CONSENTED)
    due = safety_of(participant.visits.get(definition__code="SCR"))[0].due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=1))
    assert not OutboxEmail.objects.filter(recipient=other).exists()
    assert OutboxEmail.objects.filter(recipient=coordinator).count() == 1


def test_flag_overdue_command_prints_what_it_did(screening, mailoutbox):
    _, scr = screening
    at = safety_of(scr)[0].due_at + dt.timedelta(minutes=1)
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("flag_overdue", "--now", at.isoformat(), stdout=out)
    text = out.getvalue()
    assert f"{len(safety_of(scr))} safety assessment(s) flagged overdue" in text
    assert "2 email(s) queued" in text and "2 sent" in text
    assert {r.kind for r in OutboxEmail.objects.all()} == {OutboxKind.SAFETY_OVERDUE}


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR)


def test_the_medical_monitor_gets_overdue_alerts_and_escalations_of_every_site(
    screening, coordinator, investigator, manager, monitor, mailoutbox
):
    _, scr = screening
    due = safety_of(scr)[0].due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=5))
    services.overdue_scan(now=due + dt.timedelta(hours=49))
    services.outbox_deliver_due(now=due + dt.timedelta(hours=49))

    told = {(m.to[0], "ESCALATION" in m.subject) for m in mailoutbox}
    assert told == {
        (coordinator.email, False),
        (investigator.email, False),
        (monitor.email, False),
        (manager.email, True),
        (monitor.email, True),
    }


def _consent_then_coordinator_leaves(site):
    """A consent at `site` by its only coordinator, who then leaves (is deactivated): the site
    has nobody of its own to alert."""
    recorder = coordinator_at(site)
    participant = consent(site, recorder, CONSENTED)
    recorder.is_active = False
    recorder.save()
    return participant


def test_a_site_without_coordinator_or_investigator_alerts_managers_and_monitors_and_logs(
    protocol, site, site2, coordinator, manager, monitor, caplog
):
    with time_machine.travel(local(CONSENTED, 12, site2.time_zone), tick=False):
        participant = _consent_then_coordinator_leaves(site2)
    due = safety_of(participant.visits.get(definition__code="SCR"))[0].due_at

    result = services.overdue_scan(now=due + dt.timedelta(minutes=1))

    assert result.flagged > 0 and result.nobody_to_alert == 0
    assert set(OutboxEmail.objects.values_list("recipient", flat=True)) == {manager.pk, monitor.pk}
    assert "site S02 has no active coordinator or investigator" in caplog.text
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_nobody_to_alert_leaves_items_unflagged_retries_and_is_shown_to_staff(
    protocol, site2, coordinator, healthz
):
    with time_machine.travel(local(CONSENTED, 12, site2.time_zone), tick=False):
        # S02's only coordinator has left, and there are no managers or monitors.
        participant = _consent_then_coordinator_leaves(site2)
    scr = participant.visits.get(definition__code="SCR")
    at = safety_of(scr)[0].due_at + dt.timedelta(minutes=1)

    with time_machine.travel(at, tick=False):
        tasks.flag_overdue()
        result = services.overdue_scan(now=at)
        banner = heartbeat_problem(at)
        health = healthz()

    assert result.flagged == 0 and result.nobody_to_alert == len(safety_of(scr))
    assert all(a.overdue_flagged_at is None for a in safety_of(scr))
    assert OutboxEmail.objects.count() == 0
    assert f"{len(safety_of(scr))} overdue safety items have nobody to alert" in banner
    assert health.status_code == 503
    assert health.json()["safety_alert_recipients"] == {
        "ok": False,
        "nobody_to_alert": len(safety_of(scr)),
    }

    make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    later = at + dt.timedelta(minutes=15)
    with time_machine.travel(later, tick=False):
        tasks.flag_overdue()
        assert "nobody to alert" not in (heartbeat_problem(later) or "")
    assert all(a.overdue_flagged_at == later for a in safety_of(scr))
    assert OutboxEmail.objects.count() == 1


def test_an_escalation_with_nobody_to_escalate_to_waits_for_a_study_manager(screening):
    _, scr = screening
    due = safety_of(scr)[0].due_at
    services.overdue_scan(now=due + dt.timedelta(minutes=5))
    get_user_model().objects.filter(username="manager").update(is_active=False)
    late = due + dt.timedelta(hours=49)

    nobody = services.overdue_scan(now=late)
    assert nobody.escalated == 0 and nobody.nobody_to_alert == len(safety_of(scr))
    assert all(a.escalated_at is None for a in safety_of(scr))

    new_manager = make_user("manager-2", StaffRole.STUDY_MANAGER)
    again = services.overdue_scan(now=late + dt.timedelta(minutes=15))
    assert again.escalated == len(safety_of(scr)) and again.nobody_to_alert == 0
    escalation = OutboxEmail.objects.get(kind=OutboxKind.SAFETY_ESCALATION)
    assert escalation.recipient == new_manager


def test_participants_lost_to_follow_up_are_still_alerted(
    screening, site, coordinator, investigator, mailoutbox
):
    """Reminders skip them, but their safety items are still due: a missing one is a deviation
    whether or not the site can reach the participant, so the overdue scan keeps alerting."""
    participant, scr = screening
    due = safety_of(scr)[0].due_at
    lost_on = due.astimezone(site.tz).date() - dt.timedelta(days=1)
    with time_machine.travel(local(lost_on, 18, site.time_zone), tick=False):
        schedule_services.participant_lose_to_follow_up(
            participant,
            last_contact_on=CONSENTED,
            contact_attempts=[lost_on - dt.timedelta(days=n) for n in (0, 2, 4)],
            by=coordinator,
        )
    participant.refresh_from_db()
    assert participant.status == "lost_to_follow_up"

    with time_machine.travel(due + dt.timedelta(minutes=5), tick=False):
        result = services.overdue_scan(now=due + dt.timedelta(minutes=5))
        services.outbox_deliver_due()

    assert result.flagged == len(safety_of(scr))
    assert sorted(m.to[0] for m in mailoutbox) == sorted([coordinator.email, investigator.email])
