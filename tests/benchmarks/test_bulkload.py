"""The benchmark's bulk loader builds a consistent tiny study (so it cannot rot unnoticed)."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count

from benchmarks import bulkload
from participants.models import Participant, StatusChange
from schedule.models import Assessment, Visit

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the bulk loader copies rows with PostgreSQL's COPY"
)

TODAY = dt.date(2026, 3, 10)


def test_the_bulk_loader_builds_a_consistent_tiny_study(protocol):
    study = bulkload.Study(TODAY, seed=3)
    assert study.build(12) == 12 and study.build(30) == 18
    clones = Participant.objects.filter(pk__gte=bulkload.ID_BASE)
    assert clones.count() == 30
    templates = {p.pk: p.visits.count() for p in Participant.objects.filter(pk__in=study.templates)}
    # Every clone has its template's visits, each visit its template's assessments.
    by_template = {}
    for k in range(1, 31):
        by_template.setdefault(study.templates[k % len(study.templates)], []).append(k)
    for template, ks in by_template.items():
        for k in ks:
            assert (
                Visit.objects.filter(participant_id=bulkload.ID_BASE + k).count()
                == templates[template]
            )
    clone_visits = Visit.objects.filter(participant__in=clones)
    assert not clone_visits.filter(window_start__gt=models_f("target_date")).exists()
    assert Assessment.objects.filter(visit__in=clone_visits).count() > 0
    # The past is recorded: no open visit whose window closed long ago without a few left open.
    closed = clone_visits.filter(window_end__lt=TODAY)
    statuses = dict(closed.values_list("status").annotate(n=Count("pk")))
    assert statuses.get("done", 0) >= statuses.get("scheduled", 0)
    assert (
        not Assessment.objects.filter(visit__in=clone_visits.filter(status="done"))
        .filter(status="pending")
        .exists()
    )
    # Copied with the foreign-key checks off: every clone row points at rows that exist.
    assert Visit.objects.filter(pk__gte=bulkload.ID_BASE).count() == clone_visits.count()
    assert (
        Assessment.objects.filter(pk__gte=bulkload.ID_BASE).count()
        == Assessment.objects.filter(visit__in=clone_visits, definition__isnull=False).count()
    )
    # Audit history and status changes came along; every site's staff can be emailed.
    assert StatusChange.objects.filter(participant__in=clones).count() >= 30
    assert Participant.history.filter(id__gte=bulkload.ID_BASE).count() == 30
    assert all(user.email for user in study.people.values())
    assert len(study.sites) == 10


def models_f(name):
    from django.db.models import F

    return F(name)


@pytest.mark.django_db(transaction=True)
def test_a_built_study_is_vacuumed_before_it_is_measured(protocol):
    # VACUUM refuses to run in a transaction: settle() runs outside any, as run.py calls it.
    bulkload.Study(TODAY, seed=3).build(3)
    before = last_vacuums()
    bulkload.settle()
    after = last_vacuums()
    for table in ("schedule_visit", "schedule_assessment"):
        assert after[table] is not None and (before[table] is None or after[table] > before[table])


def last_vacuums() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, last_vacuum FROM pg_stat_user_tables"
            " WHERE relname IN ('schedule_visit', 'schedule_assessment')"
        )
        return dict(cursor.fetchall())
