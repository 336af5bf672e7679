import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")

app = Celery("sle001")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def run_periodic_jobs_at_start(sender, **kwargs):
    """Beat first runs an interval job one interval after it starts (an hour for the reminder
    scan). Run each job once at start instead, so a restart catches up at once and the
    heartbeat banner clears. The jobs are idempotent, so a second beat doing the same is harmless."""
    for entry in sender.app.conf.beat_schedule.values():
        sender.app.send_task(entry["task"])
