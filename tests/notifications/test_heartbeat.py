"""Heartbeat: the periodic jobs record when they ran; staff see a red banner and /healthz answers
503 when they have stopped for 30 minutes, when the database or broker is down, or when a safety
alert reached nobody (a safety email FAILED in the last 7 days and not resent; overdue safety
items with nobody to alert, see notifications/test_overdue). /healthz tells anyone only whether it
is ok; the checks go to staff and to the HEALTHZ_TOKEN bearer (the `healthz` fixture)."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import RequestFactory

from notifications import services, tasks
from notifications.context_processors import heartbeat
from notifications.models import JobHeartbeat, OutboxEmail, OutboxKind, OutboxStatus
from notifications.selectors import heartbeat_problem
from tests.support import UTC, use_celery_broker

pytestmark = pytest.mark.usefixtures("memory_broker")

NOW = dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def run_every_job(at):
    with time_machine.travel(at, tick=False):
        tasks.deliver_outbox()
        tasks.flag_overdue()
        tasks.scan_safety_events()
        tasks.scan_reminders()
        tasks.queue_enrollment_report()


def test_each_periodic_job_records_its_heartbeat(db):
    run_every_job(NOW)
    beats = {b.name: b for b in JobHeartbeat.objects.all()}
    assert set(beats) == {
        "deliver_outbox",
        "flag_overdue",
        "scan_safety_events",
        "scan_reminders",
        "queue_enrollment_report",
    }
    assert all(b.last_finished_at == NOW for b in beats.values())
    assert beats["deliver_outbox"].last_summary == "no email due"


def test_every_beat_job_is_a_registered_task():
    from django.conf import settings

    from sle001.celery import app

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_no_problem_within_30_minutes_then_a_message(db):
    run_every_job(NOW)
    assert heartbeat_problem(NOW + dt.timedelta(minutes=30)) is None
    message = heartbeat_problem(NOW + dt.timedelta(minutes=31))
    assert "have not run for 31 minutes" in message
    assert "deliver_outbox" in message and "flag_overdue" in message
    # The hourly scan is allowed two of its intervals, the daily report job two days.
    assert "scan_reminders" not in message
    assert "queue_enrollment_report" not in message


def test_never_run_is_a_problem(db):
    assert "never run" in heartbeat_problem(NOW)


def test_banner_only_for_staff(db, django_user_model):
    staff = django_user_model.objects.create_user("s", is_staff=True)
    plain = django_user_model.objects.create_user("p")
    request = RequestFactory().get("/")
    request.user = plain
    assert heartbeat(request) == {"heartbeat_problem": None}
    request.user = staff
    problem = heartbeat(request)["heartbeat_problem"]
    assert "never run" in problem
    html = render_to_string("includes/heartbeat_banner.html", {"heartbeat_problem": problem})
    assert 'role="alert"' in html and "never run" in html
    assert (
        render_to_string("includes/heartbeat_banner.html", {"heartbeat_problem": None}).strip()
        == ""
    )


def test_admin_pages_show_the_banner_to_staff(admin_client):
    with time_machine.travel(NOW, tick=False):
        assert 'id="heartbeat-banner"' in admin_client.get("/admin/").content.decode()
        run_every_job(NOW)
        assert 'id="heartbeat-banner"' not in admin_client.get("/admin/").content.decode()
    with time_machine.travel(NOW + dt.timedelta(minutes=45), tick=False):
        page = admin_client.get("/admin/").content.decode()
    assert 'id="heartbeat-banner"' in page and "45 minutes" in page


def test_healthz_ok_when_jobs_ran_and_database_and_broker_answer(db, healthz):
    run_every_job(NOW)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        response = healthz()
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"] and body["periodic_jobs"]["ok"]


def test_healthz_503_when_jobs_stopped(db, healthz):
    run_every_job(NOW)
    with time_machine.travel(NOW + dt.timedelta(minutes=40), tick=False):
        response = healthz()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert not body["periodic_jobs"]["ok"]
    late = {j["job"] for j in body["periodic_jobs"]["jobs"] if not j["ok"]}
    assert late == {"deliver_outbox", "flag_overdue", "scan_safety_events"}


def test_healthz_503_when_the_broker_is_down(db, healthz):
    run_every_job(NOW)
    old = use_celery_broker("redis://127.0.0.1:1/0")
    try:
        with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
            response = healthz()
    finally:
        use_celery_broker(old)
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] == {"ok": False, "error": "OperationalError"}
    assert body["database"]["ok"] and body["periodic_jobs"]["ok"]


def test_healthz_tells_anyone_only_whether_it_is_ok(db, client):
    run_every_job(NOW)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        ok = client.get("/healthz")
    with time_machine.travel(NOW + dt.timedelta(minutes=40), tick=False):
        stopped = client.get("/healthz")
    assert (ok.status_code, ok.json()) == (200, {"ok": True})
    assert (stopped.status_code, stopped.json()) == (503, {"ok": False})


def test_healthz_details_only_for_staff_and_the_token(db, client, settings, django_user_model):
    settings.HEALTHZ_TOKEN = "a-long-random-monitoring-token"
    run_every_job(NOW)

    def keys(**headers) -> set[str]:
        with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
            return set(client.get("/healthz", headers=headers).json())

    details = {"ok", "status", "database", "broker", "periodic_jobs", "safety_emails_failed"}
    assert details <= keys(authorization="Bearer a-long-random-monitoring-token")
    assert keys(authorization="bearer  a-long-random-monitoring-token ") >= details
    assert keys(authorization="Bearer a-long-random-monitoring-toke") == {"ok"}
    assert keys(authorization="Basic a-long-random-monitoring-token") == {"ok"}
    assert keys(authorization="a-long-random-monitoring-token") == {"ok"}
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        client.force_login(django_user_model.objects.create_user("not-staff"))
    assert keys() == {"ok"}
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert details <= keys()

    settings.HEALTHZ_TOKEN = ""  # unset: no token opens the details, an empty one neither
    client.logout()
    assert keys(authorization="Bearer ") == {"ok"}
    assert keys(authorization="Bearer a-long-random-monitoring-token") == {"ok"}


def test_beat_runs_every_periodic_job_once_at_start(monkeypatch):
    from django.conf import settings

    from sle001.celery import app, run_periodic_jobs_at_start

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, *a, **kw: sent.append(name))

    class Beat:
        pass

    beat = Beat()
    beat.app = app
    run_periodic_jobs_at_start(beat)
    assert sorted(sent) == sorted(e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values())


def failed_row(kind, failed_at):
    user = get_user_model().objects.create_user(f"u-{kind}", email=f"{kind}@example.org")
    return OutboxEmail.objects.create(
        recipient=user,
        to_email=user.email,
        kind=kind,
        dedup_key=f"test:{kind}:{failed_at.isoformat()}",
        status=OutboxStatus.FAILED,
        send_after=failed_at,
        failed_at=failed_at,
        attempts=5,
        last_error="SMTPServerDisconnected: gone",
    )


def test_a_failed_safety_email_shows_on_the_banner_and_makes_healthz_503_until_resent(db, healthz):
    row = failed_row(OutboxKind.SAFETY_OVERDUE, NOW - dt.timedelta(minutes=10))
    failed_row(OutboxKind.REMINDER_DIGEST, NOW - dt.timedelta(minutes=10))  # not a safety kind
    failed_row(OutboxKind.SAFETY_MISSED, NOW - dt.timedelta(days=8))  # shown for 7 days only
    run_every_job(NOW)

    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        banner = heartbeat_problem(NOW + dt.timedelta(minutes=1))
        response = healthz()
    assert banner.startswith("1 safety alert email failed and was not resent")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["safety_emails_failed"] == {"ok": False, "count": 1}
    assert body["periodic_jobs"]["ok"] and body["database"]["ok"] and body["broker"]["ok"]

    services.outbox_resend(OutboxEmail.objects.filter(pk=row.pk), now=NOW + dt.timedelta(minutes=2))
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        assert healthz().status_code == 200  # counted live
        tasks.deliver_outbox()  # the banner's count is the delivery job's
        assert heartbeat_problem(NOW + dt.timedelta(minutes=2)) is None


def test_the_banner_still_costs_one_query(db, django_user_model, django_assert_num_queries):
    staff = django_user_model.objects.create_user("s", is_staff=True)
    failed_row(OutboxKind.SAFETY_ESCALATION, NOW)
    run_every_job(NOW)
    request = RequestFactory().get("/")
    request.user = staff
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(1):
        problem = heartbeat(request)["heartbeat_problem"]
    assert "1 safety alert email failed" in problem
