"""The overdue scan works a backlog in bounded batches of whole visits, each committed on its
own, picking ids first and creating the emails in bulk; alerts stay exactly once."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import OutboxEmail
from notifications.services import batches, safety_alerts
from schedule.models import Assessment
from tests.support import consent, local

pytestmark = pytest.mark.usefixtures("memory_broker")

CONSENTED = dt.date(2026, 4, 6)
SAFETY_PER_SCR = 6  # VS, CBC, CHEM, IGG, PREG, AE


def overdue_visits(site, coordinator, count: int) -> dt.datetime:
    """`count` participants whose SCR safety items are overdue; returns when they are due."""
    for n in range(count):
        with time_machine.travel(local(CONSENTED, 12, site.time_zone), tick=False):
            p = consent(site, coordinator, CONSENTED, screening_number=f"BAT-{n:03d}")
    return p.visits.get(definition__code="SCR").assessments.filter(is_safety=True)[0].due_at


def emails_per_visit() -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in OutboxEmail.objects.all():
        counts[row.visit_id] = counts.get(row.visit_id, 0) + 1
    return counts


def test_a_backlog_in_small_batches_alerts_each_visit_once_with_all_its_items(
    protocol, site, coordinator, investigator
):
    due = overdue_visits(site, coordinator, 4)
    at = due + dt.timedelta(minutes=1)
    # Batches of 8 items: never a whole second visit (6 items each), never half of one.
    result = services.overdue_scan(now=at, batch_size=8)
    assert result.flagged == 4 * SAFETY_PER_SCR
    assert Assessment.objects.filter(is_safety=True, overdue_flagged_at=at).count() == 24
    # Coordinator and investigator, one email each per visit, naming all six items.
    assert result.emails == 8 and set(emails_per_visit().values()) == {2}
    for row in OutboxEmail.objects.all():
        assert len(row.context["assessments"]) == SAFETY_PER_SCR
    again = services.overdue_scan(now=at + dt.timedelta(minutes=15), batch_size=8)
    assert (again.flagged, again.emails) == (0, 0)


def test_a_visit_with_more_items_than_a_batch_is_taken_whole(protocol, site, coordinator):
    due = overdue_visits(site, coordinator, 2)
    at = due + dt.timedelta(minutes=1)
    result = services.overdue_scan(now=at, batch_size=2)
    assert result.flagged == 2 * SAFETY_PER_SCR
    for row in OutboxEmail.objects.all():
        assert len(row.context["assessments"]) == SAFETY_PER_SCR


def test_batches_follow_each_other_without_overlap(protocol, site, coordinator):
    due = overdue_visits(site, coordinator, 3)
    candidates = Assessment.objects.overdue(due).filter(overdue_flagged_at__isnull=True)
    seen, after = [], None
    while after != batches.DONE:
        batch = batches.next_batch(candidates, after, 7)
        assert len(batch.ids) <= 7 or len({a.visit_id for a in batches.load(batch.ids)}) == 1
        seen += batch.ids
        after = batch.cursor
    assert sorted(seen) == sorted(candidates.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 3 * SAFETY_PER_SCR


def test_each_batch_is_kept_when_a_later_one_fails(protocol, site, coordinator, monkeypatch):
    due = overdue_visits(site, coordinator, 3)
    at = due + dt.timedelta(minutes=1)
    real = batches.load
    calls = []

    def failing_second_flag_batch(ids, *order):
        calls.append(ids)
        if len(calls) == 4:  # flag, escalate and missed of batch 1, then flag of batch 2
            raise RuntimeError("the database went away")
        return real(ids, *order)

    monkeypatch.setattr(batches, "load", failing_second_flag_batch)
    with pytest.raises(RuntimeError):
        services.overdue_scan(now=at, batch_size=SAFETY_PER_SCR)
    # The first visit's batch was committed with its emails; the rest waits for the next scan.
    assert Assessment.objects.filter(overdue_flagged_at=at).count() == SAFETY_PER_SCR
    assert len(emails_per_visit()) == 1
    monkeypatch.setattr(batches, "load", real)
    later = services.overdue_scan(now=at + dt.timedelta(minutes=15))
    assert later.flagged == 2 * SAFETY_PER_SCR and len(emails_per_visit()) == 3


def test_emails_are_created_in_one_insert_per_batch(protocol, site, coordinator, investigator):
    due = overdue_visits(site, coordinator, 3)
    at = due + dt.timedelta(minutes=1)
    with CaptureQueriesContext(connection) as queries:
        result = services.overdue_scan(now=at)
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    outbox_inserts = [sql for sql in inserts if "notifications_outboxemail" in sql]
    assert result.emails == 6 and len(outbox_inserts) == 1


def test_the_scan_takes_the_lock_once_per_batch(protocol, site, coordinator):
    due = overdue_visits(site, coordinator, 3)
    at = due + dt.timedelta(minutes=1)
    with CaptureQueriesContext(connection) as queries:
        services.overdue_scan(now=at, batch_size=SAFETY_PER_SCR)
    locks = [q for q in queries.captured_queries if "pg_advisory_xact_lock" in q["sql"]]
    expected = 3 if connection.vendor == "postgresql" else 0  # SQLite: BEGIN IMMEDIATE
    assert len(locks) == expected
    assert safety_alerts.SCAN_BATCH == 1000
