"""Read queries for the notification jobs: who is emailed, what is due, how healthy the jobs are."""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from notifications.models import JobHeartbeat, OutboxEmail, OutboxStatus
from participants.models import StaffRole, Status
from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus


def _staff(role: str) -> QuerySet:
    # Only people who can receive email: active, with an address.
    return (
        get_user_model()
        .objects.filter(is_active=True, staff_profile__role=role)
        .exclude(email="")
        .select_related("staff_profile")
    )


def staff_by_site(role: str) -> dict[int, list]:
    """{site id: [users]} for a role held per site (coordinators, investigators)."""
    result: dict[int, list] = defaultdict(list)
    for user in _staff(role).prefetch_related("staff_profile__sites").order_by("pk"):
        for site in user.staff_profile.sites.all():
            result[site.pk].append(user)
    return result


def study_managers() -> list:
    return list(_staff(StaffRole.STUDY_MANAGER).order_by("pk"))


def visits_for_reminders(target_dates: set[dt.date], window_ends: set[dt.date]) -> QuerySet[Visit]:
    """Scheduled visits whose target or window end falls on one of the given dates.

    Served by the partial indexes visit_open_target_idx and visit_open_window_end_idx. Visits of
    participants lost to follow-up stay scheduled (for a reinstatement) but are not reminded.
    """
    return (
        Visit.objects.filter(status=VisitStatus.SCHEDULED)
        .filter(Q(target_date__in=target_dates) | Q(window_end__in=window_ends))
        .exclude(participant__status=Status.LOST_TO_FOLLOW_UP)
        .select_related("participant__site", "definition")
        .order_by("target_date", "pk")
    )


def assessments_to_flag(now: dt.datetime) -> QuerySet[Assessment]:
    """Safety assessments past their due time with no result and no flag yet.

    One query over stored due times, served by the partial index assess_overdue_scan_idx.
    """
    return Assessment.objects.filter(
        status=AssessmentStatus.PENDING,
        is_safety=True,
        overdue_flagged_at__isnull=True,
        due_at__lte=now,
    )


def assessments_to_escalate(flagged_before: dt.datetime) -> QuerySet[Assessment]:
    """Flagged assessments still without a result, flagged before the cut-off, not escalated.

    Served by the partial index assess_escalation_scan_idx.
    """
    return Assessment.objects.filter(
        status=AssessmentStatus.PENDING,
        escalated_at__isnull=True,
        overdue_flagged_at__isnull=False,
        overdue_flagged_at__lte=flagged_before,
    )


def outbox_claimable(now: dt.datetime) -> QuerySet[OutboxEmail]:
    """Pending rows that are due and not claimed, or whose claim is stale (its worker died).

    Served by outbox_pending_due_idx.
    """
    stale = now - dt.timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
    return OutboxEmail.objects.filter(status=OutboxStatus.PENDING, send_after__lte=now).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)
    )


# --- Heartbeats --------------------------------------------------------------------------------


def periodic_jobs() -> dict[str, float]:
    """{job name: interval in seconds}, read from the beat schedule so the two never disagree."""
    jobs = {}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        schedule = entry["schedule"]
        if isinstance(schedule, dt.timedelta):
            seconds = schedule.total_seconds()
        elif isinstance(schedule, int | float):
            seconds = float(schedule)
        else:  # a crontab: no fixed interval; judged by the stale limit alone
            seconds = 0.0
        jobs[entry["task"].rsplit(".", 1)[-1]] = seconds
    return jobs


def heartbeat_status(now: dt.datetime) -> list[dict]:
    """One entry per periodic job: when it last finished and whether that is too long ago.

    A job is late after HEARTBEAT_STALE_MINUTES, or two of its intervals for slower jobs (the
    hourly reminder scan).
    """
    beats = {b.name: b for b in JobHeartbeat.objects.all()}
    stale_limit = dt.timedelta(minutes=settings.HEARTBEAT_STALE_MINUTES)
    result = []
    for name, interval in sorted(periodic_jobs().items()):
        allowed = max(stale_limit, dt.timedelta(seconds=2 * interval))
        beat = beats.get(name)
        last = beat.last_finished_at if beat else None
        result.append(
            {
                "job": name,
                "last_run": last.isoformat() if last else None,
                "ok": last is not None and now - last <= allowed,
                "minutes_since": int((now - last).total_seconds() // 60) if last else None,
            }
        )
    return result


def heartbeat_problem(now: dt.datetime) -> str | None:
    """A short message for staff when the periodic jobs have stopped, else None."""
    late = [j for j in heartbeat_status(now) if not j["ok"]]
    if not late:
        return None
    never = [j["job"] for j in late if j["last_run"] is None]
    if len(never) == len(late):
        return (
            "Background jobs have never run (" + ", ".join(never) + "): reminders and overdue "
            "safety flags are not being sent. Start the Celery worker and beat."
        )
    minutes = max(j["minutes_since"] for j in late if j["minutes_since"] is not None)
    return (
        f"Background jobs have not run for {minutes} minutes ("
        + ", ".join(j["job"] for j in late)
        + "): reminders and overdue safety flags are not being sent."
    )
