"""The periodic jobs' heartbeats: each run records when it finished and what it could not do
(read back by notifications.selectors for the staff banner and /healthz)."""

import datetime as dt

from django.utils import timezone

from notifications.models import JobHeartbeat


def heartbeat_record(
    name: str, summary: str = "", *, now: dt.datetime | None = None, problems: dict | None = None
) -> None:
    """Record a job's run; `problems` (counts, see selectors.job_problems) replace the last run's."""
    now = now or timezone.now()
    JobHeartbeat.objects.update_or_create(
        name=name,
        defaults={
            "last_finished_at": now,
            "last_summary": str(summary)[:250],
            "problems": problems or {},
        },
    )
