"""Safety-event alerts through the outbox (notifications/services/safety_events.py): CRS/ICANS
gradings, grade >= 3 adverse events, alerting lab values and the SAE reporting clock, each alert
to the right people exactly once per event and grade (per lab value, per clock stage).

Events are built with the models directly, so each rule is tested on its own; the last test goes
through the safety services end to end. Every scan is given its `now`, no clock is patched.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import selectors, services, tasks
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import StaffRole
from safety.clocks import sponsor_report_due
from safety.models import (
    ActionTaken,
    AdverseEvent,
    EventKind,
    Grading,
    LabResult,
    Outcome,
    Relatedness,
)
from safety.services import adverse_events, sae
from tests.support import consent, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")

CONSENTED = dt.date(2026, 4, 6)
# The site (New York) became aware of the event on Wed 8 Apr 2026 at 14:00 EDT (18:00 UTC).
AWARE = local(dt.date(2026, 4, 8), 14, "America/New_York")
DUE = AWARE + dt.timedelta(hours=24)
SECOND = dt.timedelta(seconds=1)
TWELVE_HOURS = dt.timedelta(hours=12)


# --- Data, built with the models -----------------------------------------------------------------


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR)


@pytest.fixture
def staff(coordinator, investigator, manager, monitor):
    """Everyone: the S01 coordinator and investigator, a study manager, a medical monitor."""
    return {"coord", "invest", "manager", "monitor"}


@pytest.fixture
def participant(protocol, site, coordinator):
    return consent(site, coordinator, CONSENTED, screening_number="S01-003")


def adverse_event(participant, *, kind=EventKind.AE, grade=1, serious=False, number=1):
    event = AdverseEvent(
        participant=participant,
        number=number,
        kind=kind,
        term="Fever the evening after the infusion",
        ctcae_term="Fever" if kind == EventKind.AE else "",
        onset_date=AWARE.date(),
        grade=grade,
        serious=serious,
        seriousness_criteria=["hospitalisation"] if serious else [],
        aware_at=AWARE,
        sponsor_report_due_at=sponsor_report_due(AWARE) if serious else None,
        recorded_by=_recorder(),
        recorded_at=AWARE,
    )
    event.save()
    return event


def _recorder():
    """Who recorded the data: a login with no staff role, so never a recipient itself."""
    user, _ = get_user_model().objects.get_or_create(username="recorder")
    return user


def grade(event, value, at, reasons=None):
    """A (re-)grading, and the event's current grade with it."""
    grading = Grading(
        event=event,
        grade=value,
        assessed_at=at,
        reasons=reasons or [f"grade {value}: findings of the test"],
        recorded_by=_recorder(),
        recorded_at=at,
    )
    grading.save()
    AdverseEvent.objects.filter(pk=event.pk).update(grade=value)
    return grading


def lab(participant, code, value, *, alert, unit="mg/dL", grade_=0, reasons=()):
    scr = participant.visits.get(definition__code="SCR")
    result = LabResult(
        assessment=scr.assessments.get(definition__code="IGG" if code == "IGG" else "CBC"),
        code=code,
        entered_value=Decimal(value),
        entered_unit=unit,
        value=Decimal(value),
        unit=unit,
        grade=grade_,
        reasons=list(reasons),
        alert=alert,
        recorded_by=_recorder(),
        recorded_at=AWARE,
    )
    result.save()
    return result


def scan(at):
    return services.safety_events_scan(now=at)


def told(kind=None, **context) -> set[str]:
    """Usernames with an outbox row (of `kind`, with those context values)."""
    rows = OutboxEmail.objects.select_related("recipient")
    if kind:
        rows = rows.filter(kind=kind)
    return {
        r.recipient.username
        for r in rows
        if all(r.context.get(key) == value for key, value in context.items())
    }


# --- Gradings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [EventKind.CRS, EventKind.ICANS])
def test_any_crs_or_icans_grading_goes_to_the_medical_monitors_once_even_when_the_scan_runs_twice(
    participant, staff, monitor, kind
):
    event = adverse_event(participant, kind=kind, grade=1)
    grading = grade(event, 1, AWARE)

    first = scan(AWARE + SECOND)
    again = scan(AWARE + dt.timedelta(minutes=1))

    assert told() == {"monitor"}
    assert first.gradings == 1 and first.emails == 1
    assert again.gradings == 0 and again.emails == 0
    row = OutboxEmail.objects.get()
    assert row.kind == OutboxKind.SAFETY_EVENT
    assert row.dedup_key == f"safety-event:{event.pk}:grade:1:to:{monitor.pk}"
    grading.refresh_from_db()
    assert grading.alerted_at == AWARE + SECOND


@pytest.mark.parametrize("kind", [EventKind.CRS, EventKind.ICANS])
def test_a_crs_or_icans_regraded_to_grade_2_alerts_the_site_investigators_too_and_grade_2_again_does_not(
    participant, staff, kind
):
    event = adverse_event(participant, kind=kind, grade=1)
    grade(event, 1, AWARE)
    scan(AWARE + SECOND)
    grade(event, 2, AWARE + dt.timedelta(hours=2))
    higher = scan(AWARE + dt.timedelta(hours=2, minutes=1))
    grade(event, 2, AWARE + dt.timedelta(hours=3))
    same = scan(AWARE + dt.timedelta(hours=3, minutes=1))

    assert told(grade=1) == {"monitor"}
    assert told(grade=2) == {"monitor", "invest"}
    assert higher.emails == 2 and same.emails == 0 and same.gradings == 0
    assert not Grading.objects.filter(alerted_at__isnull=True).exists()


def test_an_adverse_event_alerts_from_grade_3_of_any_kind_and_again_at_each_higher_grade(
    participant, staff
):
    event = adverse_event(participant, grade=2)
    low = grade(event, 2, AWARE)
    quiet = scan(AWARE + SECOND)
    grade(event, 3, AWARE + dt.timedelta(hours=1))
    third = scan(AWARE + dt.timedelta(hours=1, minutes=1))
    grade(event, 4, AWARE + dt.timedelta(hours=5))
    fourth = scan(AWARE + dt.timedelta(hours=5, minutes=1))
    pregnancy = adverse_event(participant, kind=EventKind.PREGNANCY, grade=3, number=2)
    grade(pregnancy, 3, AWARE + dt.timedelta(hours=6))
    scan(AWARE + dt.timedelta(hours=6, minutes=1))

    # Grade 2: nobody is emailed, and the grading is marked so the scan never reads it again.
    assert quiet.emails == 0 and quiet.gradings == 0
    low.refresh_from_db()
    assert low.alerted_at == AWARE + SECOND
    assert third.emails == 2 and fourth.emails == 2
    assert told(event=event.pk, grade=3) == told(event=event.pk, grade=4) == {"invest", "monitor"}
    assert told(event=pregnancy.pk) == {"invest", "monitor"}
    assert "coord" not in told() and "manager" not in told()


def test_a_crs_of_grade_3_is_one_email_per_person_though_two_rules_name_it(participant, staff):
    event = adverse_event(participant, kind=EventKind.CRS, grade=3)
    grade(event, 3, AWARE)
    result = scan(AWARE + SECOND)
    assert result.emails == 2 and told() == {"invest", "monitor"}


def test_the_same_grade_again_alerts_nobody_not_even_staff_who_joined_since(
    participant, site, staff
):
    event = adverse_event(participant, grade=3)
    grade(event, 3, AWARE)
    scan(AWARE + SECOND)
    make_user("invest-2", StaffRole.INVESTIGATOR, [site])
    grade(event, 3, AWARE + dt.timedelta(hours=1))  # re-assessed, same grade
    again = scan(AWARE + dt.timedelta(hours=1, minutes=1))
    assert again.emails == 0 and "invest-2" not in told()


def test_the_investigators_of_other_sites_are_not_told(participant, site2, staff):
    make_user("invest-s02", StaffRole.INVESTIGATOR, [site2])
    event = adverse_event(participant, grade=4)
    grade(event, 4, AWARE)
    scan(AWARE + SECOND)
    assert told() == {"invest", "monitor"}


# --- Lab values ----------------------------------------------------------------------------------


def test_an_alerting_lab_value_goes_to_investigators_and_monitors_once_per_value(
    participant, staff, investigator, mailoutbox
):
    igg = lab(participant, "IGG", "380.0000", alert=True, reasons=["IgG 380 mg/dL <= 400: alert"])
    lab(participant, "PLT", "210", alert=False, unit="10^9/L")

    first = scan(AWARE + SECOND)
    again = scan(AWARE + dt.timedelta(minutes=1))

    assert first.labs == 1 and first.emails == 2 and again.emails == 0
    assert told(OutboxKind.SAFETY_EVENT_LAB) == {"invest", "monitor"}
    key = f"safety-lab:{igg.pk}:value:380:to:{investigator.pk}"
    assert OutboxEmail.objects.filter(dedup_key=key).exists()
    igg.refresh_from_db()
    assert igg.alerted_at == AWARE + SECOND

    # A value that alerts where the old one did not is news (safety.services.labs clears
    # alerted_at): a new value, a new alert.
    LabResult.objects.filter(pk=igg.pk).update(value=Decimal("350"), alerted_at=None)
    corrected = scan(AWARE + dt.timedelta(minutes=2))
    assert corrected.emails == 2
    assert told(OutboxKind.SAFETY_EVENT_LAB, value="350") == {"invest", "monitor"}


def test_a_lab_value_corrected_before_sending_is_sent_as_it_stands_or_cancelled_if_it_no_longer_alerts(
    participant, staff, mailoutbox
):
    igg = lab(participant, "IGG", "380", alert=True)
    scan(AWARE + SECOND)
    at = AWARE + dt.timedelta(minutes=1)
    LabResult.objects.filter(pk=igg.pk).update(value=Decimal("350"))
    services.outbox_deliver_due(now=at)
    assert len(mailoutbox) == 2
    assert "IGG 350 mg/dL" in mailoutbox[0].subject
    assert "corrected from 380 mg/dL" in mailoutbox[0].body

    plt = lab(participant, "PLT", "20", alert=True, unit="10^9/L", grade_=4)
    scan(at)
    LabResult.objects.filter(pk=plt.pk).update(value=Decimal("120"), alert=False)
    services.outbox_deliver_due(now=at)
    cancelled = OutboxEmail.objects.filter(status=OutboxStatus.CANCELLED)
    assert cancelled.count() == 2
    assert {r.cancelled_reason for r in cancelled} == {
        "the value was corrected to 120 10^9/L, which does not alert"
    }


# --- The SAE clock -------------------------------------------------------------------------------


def test_the_sae_reminder_goes_at_12_hours_before_due_to_the_site_investigators_and_coordinators(
    participant, staff, coordinator, investigator
):
    event = adverse_event(participant, serious=True, grade=3)
    assert event.sponsor_report_due_at == DUE

    early = scan(DUE - TWELVE_HOURS - SECOND)
    on_time = scan(DUE - TWELVE_HOURS)
    again = scan(DUE - TWELVE_HOURS + dt.timedelta(minutes=1))

    assert early.emails == 0 and early.sae_stages["reminder"] == 0
    assert on_time.sae_stages["reminder"] == 1 and on_time.emails == 2
    assert again.emails == 0
    assert told(OutboxKind.SAE_CLOCK_REMINDER) == {"invest", "coord"}
    stamp = "20260409T180000Z"
    keys = set(OutboxEmail.objects.values_list("dedup_key", flat=True))
    assert keys == {
        f"sae:{event.pk}:reminder:{stamp}:to:{coordinator.pk}",
        f"sae:{event.pk}:reminder:{stamp}:to:{investigator.pk}",
    }


def test_at_the_due_instant_the_sae_is_flagged_overdue_and_escalated_once_not_a_second_before(
    participant, staff, manager
):
    adverse_event(participant, serious=True, grade=3)
    scan(DUE - TWELVE_HOURS)
    before = scan(DUE - SECOND)
    at_due = scan(DUE)
    again = scan(DUE + dt.timedelta(minutes=1))

    assert before.sae_stages["overdue"] == 0 and before.emails == 0
    assert at_due.sae_stages["overdue"] == 1 and at_due.sae_stages["escalation"] == 1
    assert at_due.emails == 3 and again.emails == 0
    assert told(OutboxKind.SAE_CLOCK_OVERDUE) == {"invest", "monitor"}
    assert told(OutboxKind.SAE_CLOCK_ESCALATION) == {"manager"}


def test_an_sae_first_seen_after_its_due_time_gets_no_reminder_only_the_overdue_alerts(
    participant, staff
):
    adverse_event(participant, serious=True, grade=3)
    scan(DUE + dt.timedelta(hours=2))
    kinds = set(OutboxEmail.objects.values_list("kind", flat=True))
    assert kinds == {OutboxKind.SAE_CLOCK_OVERDUE, OutboxKind.SAE_CLOCK_ESCALATION}


def test_a_report_recorded_before_the_deadline_means_no_overdue_email_and_cancels_the_queued_reminder(
    participant, staff, mailoutbox
):
    event = adverse_event(participant, serious=True, grade=3)
    scan(DUE - TWELVE_HOURS)  # reminders queued, not yet sent
    reported = DUE - dt.timedelta(hours=11)
    AdverseEvent.objects.filter(pk=event.pk).update(sponsor_reported_at=reported)

    services.outbox_deliver_due(now=reported + dt.timedelta(minutes=1))
    later = scan(DUE + dt.timedelta(hours=1))

    assert mailoutbox == [] and later.emails == 0
    rows = OutboxEmail.objects.all()
    assert {r.kind for r in rows} == {OutboxKind.SAE_CLOCK_REMINDER}
    assert {r.status for r in rows} == {OutboxStatus.CANCELLED}
    assert {r.cancelled_reason for r in rows} == {
        "reported to the sponsor Thu 2026-04-09 03:00 EDT"
    }


def test_a_clock_started_again_is_alerted_anew_and_the_old_clocks_queued_emails_are_cancelled(
    participant, staff, mailoutbox
):
    event = adverse_event(participant, serious=True, grade=3)
    scan(DUE - TWELVE_HOURS)
    # Downgraded, then serious again two days later: a new 24-hour clock (safety services).
    new_due = DUE + dt.timedelta(days=2)
    AdverseEvent.objects.filter(pk=event.pk).update(sponsor_report_due_at=new_due)
    again = scan(new_due - TWELVE_HOURS)
    services.outbox_deliver_due(now=new_due - TWELVE_HOURS)

    assert again.sae_stages["reminder"] == 1
    assert len(mailoutbox) == 2
    cancelled = OutboxEmail.objects.filter(status=OutboxStatus.CANCELLED)
    assert cancelled.count() == 2
    assert all("SAE clock changed" in r.cancelled_reason for r in cancelled)


# --- What the emails say -------------------------------------------------------------------------


def test_the_emails_name_the_event_grade_reasons_clock_and_link_and_no_free_text(
    participant, staff, mailoutbox
):
    event = adverse_event(participant, kind=EventKind.CRS, grade=2, serious=True)
    grade(event, 2, AWARE, reasons=["grade 2: hypotension not needing vasopressors"])
    scan(DUE - TWELVE_HOURS)
    services.outbox_deliver_due(now=DUE - TWELVE_HOURS)
    scan(DUE)
    services.outbox_deliver_due(now=DUE + dt.timedelta(minutes=3))

    by_subject = {m.subject: m for m in mailoutbox}
    crs = next(m for s, m in by_subject.items() if s.startswith("SLE-001 SAFETY:"))
    assert (
        crs.subject
        == "SLE-001 SAFETY: S01-003-AE1 Cytokine release syndrome (CRS) grade 2 (serious)"
    )
    assert "hypotension not needing vasopressors" in crs.body
    assert "held until the event is" in crs.body
    reminder = next(m for s, m in by_subject.items() if "SAE report due" in s)
    assert reminder.subject == (
        "SLE-001 SAE report due Thu 2026-04-09 14:00 EDT: S01-003-AE1 (12 h 00 min left)"
    )
    assert "Thu 2026-04-09 18:00 UTC" in reminder.body
    assert "Hospitalisation or its prolongation" in reminder.body
    overdue = next(m for s, m in by_subject.items() if "OVERDUE" in s)
    assert "Overdue by:  0 h 03 min" in overdue.body
    escalation = next(m for s, m in by_subject.items() if s.startswith("SLE-001 ESCALATION"))
    assert escalation.to == ["manager@example.org"]
    for message in mailoutbox:
        assert f"/participants/{participant.pk}/" in message.body
        html = message.alternatives[0][0]
        assert f'/participants/{participant.pk}/">Open S01-003</a>' in html
        assert "Fever the evening" not in message.body + html  # the free-text term stays out


# --- Nobody to alert, fallbacks ------------------------------------------------------------------


def test_a_site_without_investigators_alerts_managers_and_monitors_and_logs_an_error(
    participant, coordinator, manager, monitor, caplog
):
    event = adverse_event(participant, grade=3)
    grade(event, 3, AWARE)
    result = scan(AWARE + SECOND)
    assert result.gradings == 1 and result.nobody_to_alert == 0
    assert told() == {"manager", "monitor"}
    assert "no active investigator at site S01" in caplog.text
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_nobody_to_alert_leaves_the_event_unclaimed_shows_on_the_banner_and_clears_once_someone_is_added(
    participant, healthz
):
    event = adverse_event(participant, kind=EventKind.CRS, grade=1)
    grading = grade(event, 1, AWARE)  # for the medical monitors, and there are none, nor managers

    summary = tasks.scan_safety_events()
    banner = selectors.heartbeat_problem(AWARE)
    health = healthz().json()

    assert "1 with nobody to alert" in summary
    grading.refresh_from_db()
    assert grading.alerted_at is None and OutboxEmail.objects.count() == 0
    assert "1 safety event (CRS/ICANS or grade 3+ AE" in banner and "nobody to alert" in banner
    assert health["safety_alert_recipients"] == {"ok": False, "nobody_to_alert": 1}

    make_user("monitor-2", StaffRole.MEDICAL_MONITOR)
    tasks.scan_safety_events()
    assert "nobody to alert" not in (selectors.heartbeat_problem(AWARE) or "")
    grading.refresh_from_db()
    assert grading.alerted_at is not None and told() == {"monitor-2"}


# --- Queries, indexes, concurrency, the job ------------------------------------------------------


def test_the_scan_is_three_queries_when_nothing_is_new(participant, staff):
    event = adverse_event(participant, grade=3)
    grade(event, 3, AWARE)
    scan(AWARE + SECOND)
    with CaptureQueriesContext(connection) as queries:
        scan(AWARE + dt.timedelta(minutes=1))
    assert len(queries.captured_queries) == 3


@pytest.mark.parametrize(
    ("index", "query"),
    [
        ("grading_alert_scan_idx", lambda: selectors.gradings_to_alert()),
        ("lab_alert_scan_idx", lambda: selectors.labs_to_alert()),
        ("ae_sae_clock_scan_idx", lambda: selectors.sae_clocks_running(DUE)),
    ],
)
def test_each_scan_query_can_use_its_partial_index(db, index, query):
    sql, params = query().query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert index in plan


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_the_same_time_create_each_row_once(protocol, site, coordinator):
    make_user("invest", StaffRole.INVESTIGATOR, [site])
    make_user("monitor", StaffRole.MEDICAL_MONITOR)
    make_user("manager", StaffRole.STUDY_MANAGER)
    participant = consent(site, coordinator, CONSENTED, screening_number="S01-003")
    for n in range(1, 5):
        event = adverse_event(participant, kind=EventKind.CRS, grade=2, serious=True, number=n)
        grade(event, 2, AWARE)
    lab(participant, "IGG", "300", alert=True)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(scan(DUE))
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    # 4 gradings x 2 (investigator, monitor) + 1 lab x 2 + 4 SAE x (2 overdue + 1 escalation).
    expected = 8 + 2 + 12
    assert OutboxEmail.objects.count() == expected
    assert sum(r.emails for r in results) == expected
    assert sum(r.gradings for r in results) == 4 and sum(r.labs for r in results) == 1
    assert not Grading.objects.filter(alerted_at__isnull=True).exists()


def test_the_scan_runs_every_minute_and_its_heartbeat_is_expected(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["scan-safety-events"]
    assert entry == {"task": "notifications.tasks.scan_safety_events", "schedule": 60.0}
    assert selectors.periodic_jobs()["scan_safety_events"] == 60.0


# --- Through the safety services -----------------------------------------------------------------


def test_an_sae_recorded_and_reported_through_the_safety_services_is_alerted_once_and_stops(
    participant, staff, coordinator, mailoutbox
):
    event = adverse_events.ae_record(
        participant,
        term="Pneumonia",
        ctcae_term="Lung infection",
        onset_date=AWARE.date(),
        grade=3,
        serious=True,
        seriousness_criteria=["hospitalisation"],
        related_to_product=Relatedness.POSSIBLE,
        related_to_leukapheresis=Relatedness.NOT_RELATED,
        action_taken=ActionTaken.NONE,
        outcome=Outcome.NOT_RECOVERED,
        aware_at=AWARE,
        by=coordinator,
    )
    assert event.sponsor_report_due_at == DUE

    first = scan(DUE - TWELVE_HOURS)
    sae.sae_report_to_sponsor(event, at=DUE - dt.timedelta(hours=1), by=coordinator)
    after = scan(DUE)
    services.outbox_deliver_due(now=DUE)

    assert first.gradings == 1 and first.sae_stages["reminder"] == 1
    assert after.emails == 0 and not after.sae_stages
    assert told(OutboxKind.SAFETY_EVENT) == {"invest", "monitor"}
    assert told(OutboxKind.SAE_CLOCK_REMINDER) == {"invest", "coord"}
    # Reported before the reminders went out: they are cancelled, the grade 3 alert is sent.
    assert sorted(m.to[0] for m in mailoutbox) == ["invest@example.org", "monitor@example.org"]
