"""The monthly enrollment report email: queued once per study manager per month, sent through the
outbox, counts only (no study ids)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from notifications import services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.models import StaffRole
from tests.support import UTC, Journey, make_user

FIRST_OF_MONTH = dt.datetime(2026, 2, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
def study(protocol, site, coordinator, investigator, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    a.enroll(dt.date(2026, 1, 20))
    Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 22))
    make_user("manager-1", StaffRole.STUDY_MANAGER)
    make_user("manager-2", StaffRole.STUDY_MANAGER)
    return a


def test_last_months_report_is_queued_once_per_manager(study):
    with time_machine.travel(FIRST_OF_MONTH, tick=False):
        assert services.enrollment_report_queue() == 2
        assert services.enrollment_report_queue() == 0
    rows = OutboxEmail.objects.filter(kind=OutboxKind.ENROLLMENT_REPORT)
    assert {r.about_date for r in rows} == {dt.date(2026, 1, 1)}


def test_report_email_carries_counts_and_no_participant_ids(study):
    with time_machine.travel(FIRST_OF_MONTH, tick=False):
        services.enrollment_report_queue()
        services.outbox_deliver_due()
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.subject == "SLE-001 enrollment report, January 2026: 1 enrolled of 10"
    assert any(line.split()[:4] == ["S01", "2", "1", "0"] for line in message.body.splitlines())
    assert study.p.study_id not in message.body
    assert "S01-S" not in message.body  # no screening numbers either
    html = message.alternatives[0][0]
    assert "January 2026" in html
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_a_beat_down_on_the_first_still_sends_that_months_report(study):
    with time_machine.travel(FIRST_OF_MONTH + dt.timedelta(days=3), tick=False):
        assert services.enrollment_report_queue() == 2
    assert set(OutboxEmail.objects.values_list("about_date", flat=True)) == {dt.date(2026, 1, 1)}
