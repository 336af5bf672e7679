"""manage.py seed_demo: demo sites, logins and participants in every status, dated around today."""

import datetime as dt
import io
import re
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import connections, transaction
from django.http import HttpRequest  # django-axes needs the request a log-in comes with

from participants.models import Participant, Site, Status, StatusChange
from participants.services.dates import site_today
from schedule import services
from schedule.models import Assessment, AssessmentStatus, ProtocolVersion, Visit, VisitStatus
from schedule.protocols.v1 import PROTOCOL
from tests.support import UTC

# 14:30 UTC: still 10 March in New York and Berlin, already 11 March in Sydney, so "today at its
# site" must really be the site's own date.
NOW = dt.datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
LOGINS = (
    "coordinator-s01",
    "coordinator-s02",
    "coordinator-s03",
    "investigator-s01",
    "manager",
    "admin",
)


def seed(*args) -> str:
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Seed once for the module, inside a transaction rolled back at the end; each test runs in
    its own savepoint within it (the db fixture), so tests still cannot see each other's changes.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            # Transactional tests elsewhere flush the protocol the migration loaded.
            if not ProtocolVersion.objects.filter(version=PROTOCOL["version"]).exists():
                services.protocol_load(PROTOCOL)
            yield SimpleNamespace(output=seed())
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            # The per-test TestCase teardown inside this module-wide transaction leaves a
            # connection behind on PostgreSQL; close it so the test database can be dropped.
            connections.close_all()


@pytest.fixture
def seeded(demo, db):
    return demo.output


def counts():
    return {
        "participants": Participant.objects.count(),
        "visits": Visit.objects.count(),
        "assessments": Assessment.objects.count(),
        "done assessments": Assessment.objects.filter(status=AssessmentStatus.DONE).count(),
        "status changes": StatusChange.objects.count(),
        "sites": Site.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_three_sites_in_their_time_zones(seeded):
    assert dict(Site.objects.values_list("code", "time_zone")) == {
        "S01": "America/New_York",
        "S02": "Europe/Berlin",
        "S03": "Australia/Sydney",
    }
    assert set(Site.objects.values_list("enrollment_target", flat=True)) == {10}


def test_participants_in_every_status_across_sites(seeded):
    assert Participant.objects.count() >= 25
    assert set(Participant.objects.values_list("status", flat=True)) == set(Status.values)
    for site in Site.objects.all():
        assert site.participants.count() >= 8, site.code
    rescreen = Participant.objects.get(rescreen_of__isnull=False)
    assert rescreen.rescreen_of.status == Status.SCREEN_FAILED
    # Study ids and screening numbers are the only identifiers.
    for screening_number, study_id in Participant.objects.values_list(
        "screening_number", "study_id"
    ):
        assert re.fullmatch(r"S0[123]-S\d{3}", screening_number)
        assert study_id is None or re.fullmatch(r"S0[123]-\d{3}", study_id)


def test_summary_lists_counts_and_logins(seeded):
    assert "Created" in seeded
    assert re.search(r"In treatment\s+\d+", seeded)
    for username in LOGINS:
        assert username in seeded
    assert "sle001-demo" in seeded


def test_logins_authenticate_and_have_their_roles(seeded):
    for username in LOGINS:
        user = authenticate(HttpRequest(), username=username, password="sle001-demo")
        assert user is not None, username
        assert user.is_staff
        assert user.email == f"{username}@example.org"
    coordinator = get_user_model().objects.get(username="coordinator-s02")
    assert coordinator.staff_profile.role == "coordinator"
    assert list(coordinator.staff_profile.sites.values_list("code", flat=True)) == ["S02"]
    assert coordinator.has_perm("participants.change_participant")
    assert coordinator.has_perm("schedule.change_assessment")
    assert not coordinator.has_perm("schedule.change_visitdefinition")
    investigator = get_user_model().objects.get(username="investigator-s01")
    assert investigator.staff_profile.role == "investigator"
    manager = get_user_model().objects.get(username="manager")
    assert manager.staff_profile.sees_all_sites
    assert manager.has_perm("participants.view_participant")
    assert manager.has_perm("schedule.change_visitdefinition")
    assert not manager.has_perm("participants.change_participant")
    assert get_user_model().objects.get(username="admin").is_superuser


def test_seeded_coordinator_registers_a_consent_in_admin_and_dashboard(seeded, client):
    coordinator = get_user_model().objects.get(username="coordinator-s02")
    assert coordinator.has_perm("participants.add_participant")
    manager = get_user_model().objects.get(username="manager")
    assert not manager.has_perm("participants.add_participant")
    s02 = Site.objects.get(code="S02")
    client.force_login(coordinator)
    entry = {
        "site": s02.pk,
        "consent_on": "2026-03-10",
        "consent_time": "09:00",
        "consent_form_version": "ICF v2.0",
        "age_at_consent": "50",
        "screening_number": "",
    }
    before = Participant.objects.filter(site=s02).count()
    with time_machine.travel(NOW, tick=False):
        assert client.get("/admin/participants/participant/add/").status_code == 200
        response = client.post("/admin/participants/participant/add/", entry)
        assert response.status_code == 302, response.content.decode()[-3000:]
        assert client.get(response["Location"]).status_code == 200
        assert client.post("/participants/new/", entry).status_code == 302
    added = Participant.objects.filter(site=s02).order_by("-pk")[:2]
    assert Participant.objects.filter(site=s02).count() == before + 2
    for p in added:
        assert {"SCR", "APH"} <= set(p.visits.values_list("definition__code", flat=True))
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        assert client.get("/admin/participants/participant/add/").status_code == 403
        assert client.get("/participants/new/").status_code == 403


def test_second_run_changes_nothing_but_the_password(seeded):
    before = counts()

    output = seed("--password", "another-demo-pass")

    assert counts() == before
    assert "already have participants" in output
    assert (
        authenticate(HttpRequest(), username="coordinator-s01", password="another-demo-pass")
        is not None
    )
    assert authenticate(HttpRequest(), username="coordinator-s01", password="sle001-demo") is None


def test_worklists_look_live(seeded):
    with time_machine.travel(NOW, tick=False):
        open_visits = Visit.objects.filter(status=VisitStatus.SCHEDULED).select_related(
            "participant__site"
        )
        due_today = [v for v in open_visits if v.target_date == site_today(v.participant.site)]
        closing = [
            v
            for v in open_visits
            if 0
            <= (v.window_end - site_today(v.participant.site)).days
            <= 3
            < (v.window_end - v.window_start).days + 1
        ]
        overdue = Assessment.objects.filter(
            status=AssessmentStatus.PENDING, is_safety=True, due_at__lt=NOW
        )
        assert due_today, "no visit due today"
        # Sydney's today is 11 March: a visit due there today proves the site's date is used.
        assert any(
            v.participant.site.code == "S03" and v.target_date == dt.date(2026, 3, 11)
            for v in due_today
        )
        assert closing, "no window closing within 3 days"
        assert overdue.exists(), "no overdue safety assessment"
        assert Assessment.objects.filter(status=AssessmentStatus.DONE, is_safety=True).exists()
        # Nothing is recorded in the future.
        assert not Assessment.objects.filter(completed_at__gt=NOW).exists()
        for visit in Visit.objects.filter(actual_date__isnull=False).select_related(
            "participant__site"
        ):
            assert visit.actual_date < site_today(visit.participant.site)
