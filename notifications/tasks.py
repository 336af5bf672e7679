"""Celery tasks: thin and idempotent. Each takes ids (or nothing), calls a service and, for the
periodic jobs, records a heartbeat. The beat schedule is CELERY_BEAT_SCHEDULE in settings."""

from celery import shared_task

from notifications import services
from notifications.services.outbox import SEND_OUTBOX_EMAIL_TASK


# Named explicitly: the outbox enqueues it by this name, without importing this module.
@shared_task(name=SEND_OUTBOX_EMAIL_TASK, ignore_result=True)
def send_outbox_email(outbox_id: int) -> str:
    # Safe to run twice or late: the row is claimed first, so a second run finds nothing to do.
    return services.outbox_send(outbox_id)


@shared_task(ignore_result=True)
def deliver_outbox() -> str:
    result = services.outbox_deliver_due()
    services.heartbeat_record("deliver_outbox", str(result), problems=result.problems())
    return str(result)


@shared_task(ignore_result=True)
def scan_reminders() -> str:
    result = services.reminders_scan()
    services.heartbeat_record("scan_reminders", str(result))
    return str(result)


@shared_task(ignore_result=True)
def flag_overdue() -> str:
    result = services.overdue_scan()
    services.heartbeat_record("flag_overdue", str(result), problems=result.problems())
    return str(result)


@shared_task(ignore_result=True)
def scan_safety_events() -> str:
    result = services.safety_events_scan()
    services.heartbeat_record("scan_safety_events", str(result), problems=result.problems())
    return str(result)


@shared_task(ignore_result=True)
def queue_enrollment_report() -> str:
    created = services.enrollment_report_queue()
    summary = f"{created} enrollment report email(s) queued"
    services.heartbeat_record("queue_enrollment_report", summary)
    return summary
