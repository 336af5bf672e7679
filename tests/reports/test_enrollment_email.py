"""The monthly enrollment report email: queued for the 1st at 07:00 in the study's time zone, once
per study manager and month (twice run, or two processes at once), again only with --force; the
pictures inline, every figure attached as CSV, no participant identifiers."""

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command

from notifications import services, tasks
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import Participant, StaffRole
from reports.selectors import enrollment_figures
from tests.support import UTC, Journey, _database_url_for_subprocess, frozen, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")

# 1 Feb 2026 in New York (the study's time zone here): 06:00 is 11:00 UTC, 07:00 is 12:00 UTC.
BEFORE_SEVEN = dt.datetime(2026, 2, 1, 11, 0, tzinfo=UTC)
SEVEN = dt.datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def managers(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STUDY_TIME_ZONE = "America/New_York"
    return [
        make_user("manager-1", StaffRole.STUDY_MANAGER),
        make_user("manager-2", StaffRole.STUDY_MANAGER),
    ]


@pytest.fixture
def january(protocol, site, coordinator, investigator, managers):
    a = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    a.enroll(dt.date(2026, 1, 20))
    Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 22))
    return a


def reports() -> list:
    return [m for m in mail.outbox if m.subject.startswith("SLE-001 enrollment report")]


def test_last_months_report_waits_for_07_00_on_the_1st_in_the_study_time_zone(january):
    # 04:30 UTC on 1 Feb is still 31 Jan in New York: the month to report is December.
    assert services.enrollment_report_queue(now=dt.datetime(2026, 2, 1, 4, 30, tzinfo=UTC)) == 2
    assert set(OutboxEmail.objects.values_list("about_date", flat=True)) == {dt.date(2025, 12, 1)}
    OutboxEmail.objects.all().delete()

    assert services.enrollment_report_queue(now=BEFORE_SEVEN) == 2
    rows = OutboxEmail.objects.filter(kind=OutboxKind.ENROLLMENT_REPORT)
    assert {(r.about_date, r.send_after) for r in rows} == {(dt.date(2026, 1, 1), SEVEN)}
    services.outbox_deliver_due(now=SEVEN - dt.timedelta(seconds=1))
    assert reports() == []
    services.outbox_deliver_due(now=SEVEN)
    assert len(reports()) == 2
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_the_job_run_twice_sends_one_email_per_manager_and_force_sends_another(january, managers):
    with frozen(SEVEN):
        tasks.queue_enrollment_report()
        tasks.queue_enrollment_report()
        services.outbox_deliver_due()
        assert len(reports()) == 2
        call_command("enrollment_report", "--send", stdout=io.StringIO())
        assert len(reports()) == 2
        out = io.StringIO()
        call_command("enrollment_report", "--send", "--force", stdout=out)
    assert "2 email(s) queued" in out.getvalue()
    assert len(reports()) == 4
    keys = set(OutboxEmail.objects.values_list("dedup_key", flat=True))
    assert keys == {
        key
        for m in managers
        for key in (
            f"enrollment-report:2026-01:{m.pk}",
            f"enrollment-report:2026-01:{m.pk}:again-1",
        )
    }


def test_the_email_has_the_pictures_inline_the_csv_attached_and_no_identifiers(january):
    with frozen(SEVEN):
        services.enrollment_report_queue()
        services.outbox_deliver_due()
    message = reports()[0]
    assert message.subject == "SLE-001 enrollment report, January 2026: 1 enrolled of 30"
    html = message.alternatives[0][0]
    assert 'src="cid:consort"' in html and 'src="cid:accrual"' in html
    parts = message.message()
    assert parts.get_content_type() == "multipart/related"
    images = [p for p in parts.walk() if p.get_content_type() == "image/png"]
    assert sorted(p["Content-ID"] for p in images) == ["<accrual>", "<consort>"]
    assert all(p.get_payload(decode=True).startswith(b"\x89PNG") for p in images)
    (attached,) = [p for p in parts.walk() if p.get_filename() == "enrollment-2026-01.csv"]
    figures = {
        (row["site"], row["figure"], row["period"]): row["value"]
        for row in csv.DictReader(io.StringIO(attached.get_payload(decode=True).decode()))
    }
    assert figures[("S01", "enrolled", "month")] == "1"
    assert figures[("ALL", "screenings", "to_date")] == "2"
    everything = message.body + html + attached.get_payload(decode=True).decode()
    for p in Participant.objects.all():
        assert p.screening_number not in everything
        assert not p.study_id or p.study_id not in everything
    assert enrollment_figures(dt.date(2026, 1, 1))["total"]["counts"]["enrolled"]["to_date"] == 1


def test_two_processes_sending_at_once_send_one_email(
    transactional_db, protocol, site, coordinator, investigator, smtp_server, tmp_path
):
    make_user("manager-1", StaffRole.STUDY_MANAGER)
    Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "EMAIL_", "DATABASE_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="sle001.settings",
        DATABASE_URL=_database_url_for_subprocess(),
        EMAIL_BACKEND="smtp",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_server.port),
        VAR_DIR=str(tmp_path / "var"),
        STUDY_TIME_ZONE="America/New_York",
    )
    command = [
        sys.executable,
        str(Path(__file__).resolve().parents[2] / "manage.py"),
        "enrollment_report",
        "--month",
        "2026-01",
        "--send",
        "--now",
        "2026-02-01T12:00:00Z",
    ]
    both = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    assert len(smtp_server.handler.messages) == 1, outputs
    assert OutboxEmail.objects.get().status == OutboxStatus.SENT
    subprocess.run([*command, "--force"], env=env, check=True, capture_output=True, timeout=120)
    assert len(smtp_server.handler.messages) == 2
