"""Read queries for the notification jobs: who is emailed, what is due, how healthy the jobs are."""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from notifications.models import (
    SAE_CLOCK_KINDS,
    SAFETY_KINDS,
    JobHeartbeat,
    MissedSafetyAlert,
    OutboxEmail,
    OutboxStatus,
)
from participants.models import StaffProfile, StaffRole
from safety.models import AdverseEvent, Grading, LabResult
from schedule.models import Assessment, AssessmentStatus


def _can_receive_email(user: str = "") -> Q:
    """Only people who can receive email: active, with an address. `user`: the path to the user
    from the rows asked for."""
    return Q(**{f"{user}is_active": True}) & ~Q(**{f"{user}email": ""})


def _staff(role: str) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(_can_receive_email(), staff_profile__role=role)
        .select_related("staff_profile")
    )


def staff_by_site(role: str) -> dict[int, list]:
    """{site id: [users]} for a role held per site (coordinators, investigators): one query over
    the profiles' sites (joined, not a subquery of users: planning that took longer than the
    read), each user (with their profile) one object however many sites."""
    result: dict[int, list] = defaultdict(list)
    links = (
        StaffProfile.sites.through.objects.filter(
            _can_receive_email("staffprofile__user__"), staffprofile__role=role
        )
        .select_related("staffprofile__user")
        .order_by("staffprofile__user_id", "site_id")
    )
    users = {}
    for link in links:
        profile = link.staffprofile
        user = users.setdefault(profile.user_id, profile.user)
        result[link.site_id].append(user)
    return result


def study_managers() -> list:
    return list(_staff(StaffRole.STUDY_MANAGER).order_by("pk"))


def medical_monitors() -> list:
    """Medical monitors see every site: they are told of every site's safety alerts."""
    return list(_staff(StaffRole.MEDICAL_MONITOR).order_by("pk"))


def assessments_to_flag(now: dt.datetime) -> QuerySet[Assessment]:
    """Safety assessments past their due time with no result and no flag yet.

    One query over stored due times, served by the partial index assess_overdue_scan_idx.

    Participants lost to follow-up are NOT left out (unlike the visit reminders): their visits
    stay scheduled and their safety items are still due, and a safety item without a result is
    a deviation whether or not the site can reach the participant. So the site keeps being told.
    """
    return Assessment.objects.overdue(now).filter(overdue_flagged_at__isnull=True)


def assessments_to_escalate(flagged_before: dt.datetime) -> QuerySet[Assessment]:
    """Flagged assessments still without a result, flagged before the cut-off, not escalated.

    Served by the partial index assess_escalation_scan_idx.
    """
    return Assessment.objects.pending().filter(
        escalated_at__isnull=True,
        overdue_flagged_at__isnull=False,
        overdue_flagged_at__lte=flagged_before,
    )


# How far back the scan looks for safety items recorded as missed. Longer than any outage of the
# periodic jobs that would go unnoticed (the heartbeat banner shows one after 30 minutes).
MISSED_LOOKBACK = dt.timedelta(days=14)


def missed_safety_to_alert(now: dt.datetime) -> QuerySet[Assessment]:
    """Safety assessments recorded as missed (their visit marked missed or closed as missed when
    the participant left the study, or the item recorded as not done) in the last
    MISSED_LOOKBACK, not alerted about yet.

    "When recorded as missed" is the row's own missed_at (set by the schedule services), read
    through the partial index assess_missed_alert_scan_idx; "alerted" is a MissedSafetyAlert row
    (unique on the assessment). One query.
    """
    alerted = MissedSafetyAlert.objects.filter(assessment_id=OuterRef("pk"))
    return Assessment.objects.filter(
        status=AssessmentStatus.MISSED, is_safety=True, missed_at__gte=now - MISSED_LOOKBACK
    ).exclude(Exists(alerted))


# --- Safety events (notifications/services/safety_events.py) -----------------------------------


def gradings_to_alert() -> QuerySet[Grading]:
    """Gradings the safety-event scan has not dealt with yet, oldest first.

    Filters on exactly the condition of the partial index grading_alert_scan_idx (alerted_at IS
    NULL, on recorded_at), so the scan reads only the few new rows however many gradings exist.
    """
    return (
        Grading.objects.filter(alerted_at__isnull=True)
        .select_related("event__participant__site")
        .order_by("recorded_at", "pk")
    )


def grades_alerted(event_ids) -> set[tuple[int, int]]:
    """{(event id, grade)} already dealt with by an earlier scan: a re-grading to the same grade
    is not alerted again (not even to staff who joined since)."""
    return set(
        Grading.objects.filter(event_id__in=event_ids, alerted_at__isnull=False).values_list(
            "event_id", "grade"
        )
    )


def labs_to_alert() -> QuerySet[LabResult]:
    """Alerting lab values (LabResult.alert) not alerted on yet, oldest first.

    Filters on exactly the condition of the partial index lab_alert_scan_idx (alert AND alerted_at
    IS NULL, on recorded_at).
    """
    return (
        LabResult.objects.filter(alert=True, alerted_at__isnull=True)
        .select_related("assessment__visit__participant__site", "assessment__visit__definition")
        .order_by("recorded_at", "pk")
    )


def sae_clocks_running(due_until: dt.datetime) -> QuerySet[AdverseEvent]:
    """Serious events not reported to the sponsor whose report is due by `due_until`.

    AdverseEvent.objects.sae_unreported() is the condition of the partial index
    ae_sae_clock_scan_idx (serious AND sponsor_reported_at IS NULL, on sponsor_report_due_at): a
    reported event leaves the index, and the scan never reads it again.
    """
    return (
        AdverseEvent.objects.sae_unreported()
        .filter(sponsor_report_due_at__lte=due_until)
        .select_related("participant__site")
        .order_by("sponsor_report_due_at", "pk")
    )


def sae_stages_alerted(events) -> set[tuple[int, str, str]]:
    """{(event id, outbox kind, due instant ISO)}: the SAE clock stages that have their emails.

    Rows carry their event in `context`, so this reads the SAE rows of the events' participants
    (the participant foreign key is indexed): one query, a handful of rows.
    """
    rows = OutboxEmail.objects.filter(
        participant_id__in={e.participant_id for e in events}, kind__in=SAE_CLOCK_KINDS
    ).values_list("context", "kind")
    return {(context.get("event"), kind, context.get("due_at")) for context, kind in rows}


# A failed safety email stays a problem (banner, /healthz 503) for this long unless resent.
FAILED_VISIBLE_FOR = dt.timedelta(days=7)


def safety_emails_failed(now: dt.datetime) -> QuerySet[OutboxEmail]:
    """Safety emails given up on (FAILED) in the last 7 days and not resent (a resent row is
    pending again). Served by outbox_failed_idx."""
    return OutboxEmail.objects.filter(
        status=OutboxStatus.FAILED,
        kind__in=SAFETY_KINDS,
        failed_at__gte=now - FAILED_VISIBLE_FOR,
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


def heartbeat_status(now: dt.datetime, beats: dict | None = None) -> list[dict]:
    """One entry per periodic job: when it last finished and whether that is too long ago.

    A job is late after HEARTBEAT_STALE_MINUTES, or two of its intervals for slower jobs (the
    hourly reminder scan).
    """
    if beats is None:
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


def job_problems(beats: dict) -> dict[str, int]:
    """What the jobs' last runs could not do: {"nobody_to_alert": n, "safety_emails_failed": n,
    "safety_events_nobody_to_alert": n}.

    Counted by the jobs themselves (flag_overdue, scan_safety_events, deliver_outbox) and stored
    with their heartbeats, so reading them costs no query of its own; at most a minute
    (deliver_outbox, scan_safety_events) or 15 minutes (flag_overdue) old.

    nobody_to_alert is every safety item or event nobody can be emailed about, whichever scan
    found it: /healthz's alert-recipients check reads it. safety_events_nobody_to_alert is the
    safety-event scan's part of it, so the banner can say what is waiting.
    """
    result = {"nobody_to_alert": 0, "safety_emails_failed": 0, "safety_events_nobody_to_alert": 0}
    for beat in beats.values():
        for key, value in (beat.problems or {}).items():
            if key in result:
                result[key] += int(value)
    result["nobody_to_alert"] += result["safety_events_nobody_to_alert"]
    return result


def _problem_messages(problems: dict[str, int]) -> list[str]:
    messages = []
    events = problems.get("safety_events_nobody_to_alert", 0)
    if n := problems["nobody_to_alert"] - events:
        messages.append(
            f"{n} overdue safety item{'s' if n != 1 else ''} "
            f"{'have' if n != 1 else 'has'} nobody to alert: no active coordinator, investigator, "
            "study manager or medical monitor with an email address. Add one in the admin."
        )
    if n := events:
        messages.append(
            f"{n} safety event{'s' if n != 1 else ''} (CRS/ICANS or grade 3+ AE, alerting lab "
            f"value, SAE report clock) {'have' if n != 1 else 'has'} nobody to alert: no active "
            "investigator, coordinator, medical monitor or study manager with an email address. "
            "Add one in the admin."
        )
    if n := problems["safety_emails_failed"]:
        messages.append(
            f"{n} safety alert email{'s' if n != 1 else ''} failed and "
            f"{'were' if n != 1 else 'was'} not resent: see the outbox in the admin (status "
            "failed) and send again."
        )
    return messages


def heartbeat_problem(now: dt.datetime) -> str | None:
    """A short message for staff when the periodic jobs have stopped, or when safety alerts
    could not be sent (nobody to alert, emails failed), else None. One query."""
    beats = {b.name: b for b in JobHeartbeat.objects.all()}
    messages = []
    jobs = _jobs_problem(heartbeat_status(now, beats))
    if jobs:
        messages.append(jobs)
    messages.extend(_problem_messages(job_problems(beats)))
    return " ".join(messages) or None


def _jobs_problem(status: list[dict]) -> str | None:
    late = [j for j in status if not j["ok"]]
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


def notifications_of(user, *, status: str = ""):
    """The emails addressed to `user` (sent, queued, failed or cancelled), newest first: the
    columns the log shows only (not the bodies). Paginated by the caller."""
    rows = OutboxEmail.objects.filter(recipient=user).only(
        "kind",
        "subject",
        "status",
        "send_after",
        "sent_at",
        "created_at",
        "cancelled_reason",
        "last_error",
        "attempts",
        "to_email",
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")
