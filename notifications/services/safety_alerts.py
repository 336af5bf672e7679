"""Safety alerts: the overdue scan (every 15 minutes) flags safety assessments past due with no
result, escalates old flags, and alerts of safety items recorded as missed; and what a safety
row says when it is sent.

Who counts as overdue or missed is decided in one place each: _overdue_to_flag and
_overdue_to_escalate (the scan's queries, on notifications.selectors) and _still_overdue at send
time; _missed_to_alert and _still_missed likewise.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from notifications import selectors
from notifications.models import MissedSafetyAlert, OutboxEmail, OutboxKind
from notifications.services import batches
from notifications.services.emails import admin_url, participant_url
from notifications.services.outbox import outbox_add_many
from notifications.services.recipients import SiteAlertRecipients
from schedule.models import Assessment, AssessmentStatus, Visit
from schedule.services.deviations import deviation_drafts_for_overdue

log = logging.getLogger(__name__)

# The key of the PostgreSQL advisory lock that makes overdue scans run one at a time (any
# constant no other code uses; "SLE-001", then 1 for this scan).
OVERDUE_SCAN_LOCK = 5_100_101

# At most this many items per batch (whole visits), each batch committed on its own.
SCAN_BATCH = 1000


@dataclass
class OverdueScanResult:
    flagged: int = 0
    escalated: int = 0
    missed: int = 0
    emails: int = 0
    # Items left unflagged / unescalated / unalerted because nobody could be emailed: the next
    # scan tries again, and the staff banner and /healthz show the count meanwhile.
    nobody_to_alert: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.flagged} safety assessment(s) flagged overdue, {self.escalated} escalated, "
            f"{self.missed} missed alerted, {self.emails} email(s) queued"
        )
        if self.nobody_to_alert:
            text += f", {self.nobody_to_alert} with nobody to alert"
        return text

    def problems(self) -> dict:
        return {"nobody_to_alert": self.nobody_to_alert}


def overdue_scan(
    *, now: dt.datetime | None = None, batch_size: int = SCAN_BATCH
) -> OverdueScanResult:
    """Flag safety assessments past due with no result (once each) and email the site's
    coordinators and investigators and the medical monitors; escalate to the study managers and
    medical monitors those still without a result OVERDUE_ESCALATION_HOURS after the flag; and
    alert the same site people, once per visit, of safety assessments recorded as missed (a
    missing safety item is an important protocol deviation, PROTOCOL.md).

    One indexed query per step over stored due times, never a loop over participants; a
    routine run with nothing new is one query (_anything_to_do), with no transaction or lock. A result
    recorded later takes the row out of both scans; overdue_flagged_at stays, so how late the
    result was remains known (Assessment.late_by). An item nobody can be emailed about is left
    unflagged (unescalated, unalerted) so the next scan tries again, and counted (banner).

    Participants lost to follow-up are alerted about like everyone else (selectors).
    A visit marked missed after its items were flagged: the pending overdue emails are cancelled
    at send time and escalation no longer applies (the items are not pending), but the missed
    alert below covers the items.

    A backlog is worked in batches of at most `batch_size` items (whole visits; batches.py),
    each in its own transaction under the advisory lock: ids first from the partial index, then
    the related rows of those ids only, emails created in bulk. No run holds the lock for the
    whole backlog, and each batch's work is committed once done.
    """
    now = now or timezone.now()
    result = OverdueScanResult()
    if not _anything_to_do(now):
        return result
    recipients = SiteAlertRecipients()
    cursors = {step: None for step in (_flag_overdue, _escalate_overdue, _alert_missed)}
    while cursors:
        with transaction.atomic():
            _serialise_scan()
            for step, after in cursors.items():
                cursors[step] = step(now, recipients, result, batch_size, after)
        cursors = {step: after for step, after in cursors.items() if after != batches.DONE}
    return result


def safety_context(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    """Re-validate a safety row at send time: (why it is cancelled, {}) or (None, context)."""
    assessments = list(
        Assessment.objects.filter(pk__in=row.context.get("assessments", []))
        .select_related("definition", "visit__definition", "visit__participant__site")
        .order_by("definition__order")
    )
    problem, still = _still_alerting(row, assessments)
    if problem:
        return problem, {}
    return None, _safety_view(still, now)


# --- Who is overdue, who missed (the one place each is decided) ---------------------------------


def _escalation_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=settings.OVERDUE_ESCALATION_HOURS)


def _anything_to_do(now: dt.datetime) -> bool:
    """Is there anything to flag, escalate or alert? One query over the three partial indexes,
    outside any transaction and lock: the routine run (every 15 minutes, nothing new) ends here.
    When it says yes, the scan reads each step's candidates again under the lock."""
    candidates = [
        selectors.assessments_to_flag(now),
        selectors.assessments_to_escalate(_escalation_cutoff(now)),
        selectors.missed_safety_to_alert(now),
    ]
    first, *rest = (c.order_by().values("pk") for c in candidates)
    return first.union(*rest, all=True).exists()


def _overdue_to_flag(now: dt.datetime, after, size: int) -> tuple[list[Assessment], object]:
    """The next batch of safety assessments past due with no result, not flagged yet."""
    batch = batches.next_batch(selectors.assessments_to_flag(now), after, size)
    return batches.load(batch.ids, "due_at", "visit_id", "pk"), batch.cursor


def _overdue_to_escalate(now: dt.datetime, after, size: int) -> tuple[list[Assessment], object]:
    """The next batch of flagged assessments still without a result OVERDUE_ESCALATION_HOURS
    after the flag."""
    cutoff = _escalation_cutoff(now)
    batch = batches.next_batch(selectors.assessments_to_escalate(cutoff), after, size)
    return batches.load(batch.ids, "overdue_flagged_at", "visit_id", "pk"), batch.cursor


def _missed_to_alert(now: dt.datetime, after, size: int) -> tuple[list[Assessment], object]:
    """The next batch of safety assessments recorded as missed lately, not alerted about yet."""
    candidates = selectors.missed_safety_to_alert(now)
    batch = batches.next_batch(candidates, after, size, by_due_time=False)
    return batches.load(batch.ids, "visit_id", "definition__order"), batch.cursor


def _still_overdue(assessments: list[Assessment], due_at: str | None) -> list[Assessment]:
    """At send time: the items of an overdue or escalation email that are still overdue (no
    result, and still due when the email was made)."""
    return [
        a
        for a in assessments
        if a.status == AssessmentStatus.PENDING and a.due_at.isoformat() == due_at
    ]


def _still_missed(assessments: list[Assessment]) -> list[Assessment]:
    """At send time: the items of a missed-safety email still recorded as missed."""
    return [a for a in assessments if a.status == AssessmentStatus.MISSED]


# --- The scan's three steps ----------------------------------------------------------------------


def _serialise_scan() -> None:
    """Make concurrent overdue scans run one after the other, inside the scan's transaction.

    Row locks with SKIP LOCKED are not enough: two scans could each take part of one visit's
    items, and the second scan's email for the visit has the same dedup key as the first's, so
    its items would be flagged but named in no email. PostgreSQL: a transaction-level advisory
    lock, released at commit; the second scan then sees the first one's flags. SQLite: the scan's
    transaction is BEGIN IMMEDIATE (settings), which already lets one writer in at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OVERDUE_SCAN_LOCK])


def _flag_overdue(
    now, recipients: SiteAlertRecipients, result: OverdueScanResult, size: int, after
):
    flagged, emails = [], []
    found, cursor = _overdue_to_flag(now, after, size)
    if not found:  # the routine run: nothing to write, no write compiled
        return cursor
    for (visit_id, due_at), group in batches.group_by_visit(found).items():
        visit = group[0].visit
        people = recipients.for_site(visit, "overdue")
        if not people:
            _nobody(group, "overdue", result)
            continue
        flagged += group
        emails += _safety_emails(
            OutboxKind.SAFETY_OVERDUE,
            group,
            people,
            f"overdue:v{visit_id}:{due_at.isoformat()}",
            _about(visit, len(group), "overdue"),
            now,
        )
    # An overdue safety item is an important protocol deviation: drafted with the flag.
    deviation_drafts_for_overdue(flagged, now)
    result.emails += outbox_add_many(emails, now=now)
    # Conditional on no flag yet: harmless now that scans are serialised, and keeps a flag time.
    result.flagged += Assessment.objects.filter(
        pk__in=[a.pk for a in flagged], overdue_flagged_at__isnull=True
    ).update(overdue_flagged_at=now)
    return cursor


def _escalate_overdue(
    now, recipients: SiteAlertRecipients, result: OverdueScanResult, size: int, after
):
    escalate_ids, emails = [], []
    found, cursor = _overdue_to_escalate(now, after, size)
    if not found:  # the routine run: nothing to write, no write compiled
        return cursor
    for (visit_id, due_at), group in batches.group_by_visit(found).items():
        visit = group[0].visit
        people = recipients.for_escalation(visit)
        if not people:
            _nobody(group, "to escalate", result)
            continue
        escalate_ids += [a.pk for a in group]
        emails += _safety_emails(
            OutboxKind.SAFETY_ESCALATION,
            group,
            people,
            f"escalation:v{visit_id}:{due_at.isoformat()}",
            _about(visit, len(group), "overdue"),
            now,
        )
    result.emails += outbox_add_many(emails, now=now)
    result.escalated += Assessment.objects.filter(
        pk__in=escalate_ids, escalated_at__isnull=True
    ).update(escalated_at=now)
    return cursor


def _alert_missed(
    now, recipients: SiteAlertRecipients, result: OverdueScanResult, size: int, after
):
    alerted, emails = [], []
    missed, cursor = _missed_to_alert(now, after, size)
    if not missed:  # the routine run: nothing to write, no write compiled
        return cursor
    for (visit_id, _), group in batches.group_by_visit(missed, by_due_time=False).items():
        visit = group[0].visit
        people = recipients.for_site(visit, "missed-safety")
        if not people:
            _nobody(group, "missed", result)
            continue
        alerted += [MissedSafetyAlert(assessment=a, alerted_at=now) for a in group]
        # One email per visit and person for the items missed together (a visit marked missed);
        # an item of the same visit recorded not done later gets an email of its own.
        emails += _safety_emails(
            OutboxKind.SAFETY_MISSED,
            group,
            people,
            f"missed:v{visit_id}:a{min(a.pk for a in group)}",
            _about(visit, len(group), "MISSED (important deviation)"),
            now,
        )
    result.emails += outbox_add_many(emails, now=now)
    MissedSafetyAlert.objects.bulk_create(alerted, ignore_conflicts=True)
    result.missed += len(alerted)
    return cursor


def _nobody(group, what: str, result: OverdueScanResult) -> None:
    visit = group[0].visit
    result.nobody_to_alert += len(group)
    log.error(
        "%s %s: %s safety item(s) %s and NOBODY can be emailed (no active staff with an email "
        "address); left for the next scan.",
        visit.participant.label,
        visit.code,
        len(group),
        what,
    )


def _safety_emails(kind, group, recipients, dedup_key, subject, now) -> list[OutboxEmail]:
    """The outbox rows (unsaved) of one visit's alert, one per recipient: created in bulk."""
    first = group[0]
    visit = first.visit
    context = {"assessments": [a.pk for a in group], "due_at": first.due_at.isoformat()}
    return [
        OutboxEmail(
            dedup_key=f"{dedup_key}:u{user.pk}",
            recipient=user,
            kind=kind,
            send_after=now,
            subject=subject,
            participant_id=visit.participant_id,
            visit_id=visit.pk,
            assessment_id=first.pk if len(group) == 1 else None,
            context=context,
        )
        for user in recipients
    ]


def _about(visit: Visit, count: int, what: str) -> str:
    return f"SLE-001 {visit.participant.label} {visit.code}: {count} safety assessment(s) {what}"


# --- What an email says --------------------------------------------------------------------------


def _still_alerting(row: OutboxEmail, assessments: list) -> tuple[str | None, list]:
    """(why the row no longer holds, []) or (None, the assessments it still alerts of)."""
    if row.kind == OutboxKind.SAFETY_MISSED:
        still = _still_missed(assessments)
        if not still:
            return "the assessments are no longer recorded as missed", []
    else:
        still = _still_overdue(assessments, row.context.get("due_at"))
    if still:
        return None, still
    if assessments and len(_still_missed(assessments)) == len(assessments):
        return "the visit was recorded as missed: the missed-safety alert replaces this", []
    return "results recorded, or the assessments were moved or closed", []


def _safety_view(still: list[Assessment], now: dt.datetime) -> dict:
    """What a safety template shows. The visit is labelled by Visit.code ("APH #2" for a repeat
    leukapheresis); each assessment by its own definition's code ("CBC")."""
    visit = still[0].visit
    tz = visit.participant.site.tz
    flagged = still[0].overdue_flagged_at
    return {
        "participant": visit.participant.label,
        "site": visit.participant.site.code,
        "visit_code": visit.code,
        "visit_name": visit.definition.name,
        "assessments": [{"code": a.definition.code, "name": a.definition.name} for a in still],
        # Formatted here: the template engine would show aware datetimes in UTC.
        "due_at": f"{still[0].due_at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}",
        "flagged_at": f"{flagged.astimezone(tz):%a %Y-%m-%d %H:%M %Z}" if flagged else "",
        "hours_overdue": int((now - still[0].due_at).total_seconds() // 3600),
        "escalation_hours": settings.OVERDUE_ESCALATION_HOURS,
        "url": participant_url(visit.participant_id),
        "admin_url": admin_url("admin:schedule_visit_change", visit.pk),
    }
