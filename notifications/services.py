"""Reminders, overdue safety flags and the email outbox, as plain functions.

Every email is an OutboxEmail row first. The scans only create rows (with a unique dedup key, so a
scan run twice, or two scans at once, create each row once); delivery claims each row with a
conditional UPDATE before sending it, so two workers never send the same row.

Delivery is at-least-once only in one narrow window: the SMTP server has accepted a message and the
worker dies before the UPDATE that marks the row sent commits. The row is then claimed again after
OUTBOX_CLAIM_TIMEOUT_SECONDS and sent a second time; the Message-ID header is the same both times
(<sle001-outbox-ID@...>), so a mail client can tell the duplicate. Everywhere else it is exactly once.

Nothing here hooks the schedule's services. A visit done, missed, moved (re-anchored) or closed by a
withdrawal is noticed because every row is re-validated against the stored visit/assessment when
it is sent (and on every reminder scan): a row whose subject no longer matches what it was created
for is cancelled with the reason.
"""

import datetime as dt
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from notifications import selectors
from notifications.models import (
    REMINDER_KINDS,
    JobHeartbeat,
    MissedSafetyAlert,
    OutboxEmail,
    OutboxKind,
    OutboxStatus,
)
from participants.models import ReminderMode, Site, StaffRole, Status
from participants.reports import enrollment_report
from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus
from schedule.windows import local_time_on

log = logging.getLogger(__name__)

# Minutes to wait before the n-th retry of a failed SMTP send (the last value repeats).
RETRY_BACKOFF_MINUTES = [1, 5, 15, 60, 240]

TEMPLATE_OF_KIND = {
    OutboxKind.VISIT_DUE: "reminder",
    OutboxKind.WINDOW_CLOSES: "reminder",
    OutboxKind.REMINDER_DIGEST: "reminder_digest",
    OutboxKind.SAFETY_OVERDUE: "safety_overdue",
    OutboxKind.SAFETY_ESCALATION: "safety_escalation",
    OutboxKind.SAFETY_MISSED: "safety_missed",
    OutboxKind.ENROLLMENT_REPORT: "enrollment_report",
}


# --- Building emails ---------------------------------------------------------------------------


def participant_url(participant_id: int) -> str:
    """The dashboard's participant page."""
    return f"{settings.SITE_URL}/participants/{participant_id}/"


def admin_url(viewname: str, pk: int) -> str | None:
    try:
        return settings.SITE_URL + reverse(viewname, args=[pk])
    except NoReverseMatch:
        return None


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) from templates/emails/<name>_subject.txt/_body.txt/.html."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}_subject.txt", context)
    subject = " ".join(subject.split())  # a header is one line
    text = render_to_string(f"emails/{name}_body.txt", context)
    html = render_to_string(f"emails/{name}_body.html", context)
    return subject, text, html


def _message_id(pk: int) -> str:
    # The same id on a re-send, so the crash-window duplicate is recognisable.
    domain = urlparse(settings.SITE_URL).hostname or "sle001.invalid"
    return f"<sle001-outbox-{pk}@{domain}>"


# --- Creating outbox rows ----------------------------------------------------------------------


def enqueue_send(pk: int) -> None:
    """Ask a worker to send one row now. A broker outage loses nothing: the row stays pending in
    the database and the every-minute deliver_outbox job sends it."""
    from notifications.tasks import send_outbox_email  # tasks import this module

    try:
        send_outbox_email.delay(pk)
    except Exception as exc:  # kombu raises several types when the broker is unreachable
        log.warning("Outbox row %s not enqueued (%s); deliver_outbox will send it.", pk, exc)


def outbox_add(
    *,
    dedup_key: str,
    recipient,
    kind: str,
    send_after: dt.datetime,
    now: dt.datetime,
    subject: str = "",
    participant_id: int | None = None,
    visit_id: int | None = None,
    assessment_id: int | None = None,
    about_date: dt.date | None = None,
    context: dict | None = None,
) -> tuple[OutboxEmail, bool]:
    """Create the row for `dedup_key` unless it exists. Returns (row, created)."""
    row, created = OutboxEmail.objects.get_or_create(
        dedup_key=dedup_key,
        defaults={
            "recipient": recipient,
            "to_email": recipient.email,
            "kind": kind,
            "subject": subject[:250],
            "send_after": send_after,
            "participant_id": participant_id,
            "visit_id": visit_id,
            "assessment_id": assessment_id,
            "about_date": about_date,
            "context": context or {},
        },
    )
    if created and send_after <= now:
        # After commit: a worker must not look for a row that is not committed yet.
        transaction.on_commit(lambda: enqueue_send(row.pk))
    return row, created


# --- Reminders ---------------------------------------------------------------------------------


def _item_key(item: dict) -> str:
    return f"{item['kind']}:{item['visit']}:{item['date']}:{item.get('days')}"


def _item_dedup_key(item: dict, user_id: int) -> str:
    # Visit id + kind + the date it is about: a moved visit gets a new row.
    return f"reminder:{item['kind']}:v{item['visit']}:{item['date']}:d{item.get('days')}:u{user_id}"


def _reminder_items(visit: Visit, today: dt.date, days_before: list[int]) -> list[dict]:
    """The reminders due today (site-local) for one visit."""
    items = [
        {
            "kind": OutboxKind.VISIT_DUE.value,
            "visit": visit.pk,
            "date": str(visit.target_date),
            "days": n,
        }
        for n in days_before
        if visit.target_date == today + dt.timedelta(days=n)
    ]
    tomorrow = today + dt.timedelta(days=1)
    # The "window closes tomorrow" reminder says nothing new when a "visit tomorrow" reminder for
    # the same visit goes out the same day (windows of 0 days after the target, e.g. INF1).
    if visit.window_end == tomorrow and not any(i["days"] == 1 for i in items):
        items.append(
            {
                "kind": OutboxKind.WINDOW_CLOSES.value,
                "visit": visit.pk,
                "date": str(visit.window_end),
                "days": None,
            }
        )
    return items


def _item_problem(item: dict, visit: Visit | None, now: dt.datetime) -> str | None:
    """Why a reminder item should no longer be sent, or None when it still holds."""
    if visit is None:
        return "the visit no longer exists"
    code = f"{visit.participant.label} {visit.code}"
    if visit.status != VisitStatus.SCHEDULED:
        return f"{code} is {visit.get_status_display().lower()}"
    if visit.participant.status == Status.LOST_TO_FOLLOW_UP:
        return f"{visit.participant.label} is lost to follow-up"
    about = dt.date.fromisoformat(item["date"])
    if item["kind"] == OutboxKind.VISIT_DUE and visit.target_date != about:
        return f"{code} moved to {visit.target_date:%d %b %Y}"
    if item["kind"] == OutboxKind.WINDOW_CLOSES and visit.window_end != about:
        return f"{code}'s window now ends {visit.window_end:%d %b %Y}"
    if now.astimezone(visit.participant.site.tz).date() > about:
        return f"{about:%d %b %Y} has passed"
    return None


def _visits_by_id(ids) -> dict[int, Visit]:
    return {
        v.pk: v
        for v in Visit.objects.filter(pk__in=set(ids)).select_related(
            "participant__site", "definition"
        )
    }


def _item_view(item: dict, visit: Visit) -> dict:
    """What a reminder template shows: study ids and visit codes only."""
    return {
        "kind": item["kind"],
        "days": item.get("days"),
        "participant": visit.participant.label,
        "site": visit.participant.site.code,
        "visit_code": visit.code,
        "visit_name": visit.definition.name,
        "target_date": visit.target_date,
        "window_start": visit.window_start,
        "window_end": visit.window_end,
        "url": participant_url(visit.participant_id),
    }


def _row_items(row: OutboxEmail) -> list[dict]:
    if row.kind == OutboxKind.REMINDER_DIGEST:
        return list(row.context.get("items", []))
    return [row.context["item"]]


@dataclass
class ReminderScanResult:
    created: int = 0
    digest_items_added: int = 0
    cancelled: int = 0
    cancelled_reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.created} reminder email(s) queued, {self.digest_items_added} item(s) added "
            f"to digests, {self.cancelled} cancelled"
        )


def _cancel_stale_reminders(now: dt.datetime, result: ReminderScanResult) -> None:
    """Re-check every pending, unclaimed reminder row against the stored visit dates."""
    rows = list(
        OutboxEmail.objects.filter(
            status=OutboxStatus.PENDING, kind__in=REMINDER_KINDS, claimed_at__isnull=True
        )
    )
    visits = _visits_by_id(i["visit"] for row in rows for i in _row_items(row))
    for row in rows:
        items = _row_items(row)
        problems = [_item_problem(i, visits.get(i["visit"]), now) for i in items]
        valid = [i for i, p in zip(items, problems, strict=True) if p is None]
        if len(valid) == len(items):
            continue
        # Conditional on the row being unclaimed: a worker may be sending it right now.
        unclaimed = OutboxEmail.objects.filter(
            pk=row.pk, status=OutboxStatus.PENDING, claimed_at__isnull=True
        )
        if valid:
            unclaimed.update(context={**row.context, "items": valid})
        elif unclaimed.update(
            status=OutboxStatus.CANCELLED, cancelled_reason="; ".join(filter(None, problems))[:250]
        ):
            result.cancelled += 1
            result.cancelled_reasons.extend(filter(None, problems))


def _reminder_subject(items: list[dict], visits: dict[int, Visit], day: dt.date) -> str:
    if len(items) == 1:
        item = items[0]
        visit = visits[item["visit"]]
        return render_email("reminder", {"item": _item_view(item, visit)})[0]
    return f"SLE-001 reminders for {day:%a %d %b %Y}: {len(items)} visits"


def _add_per_item(user, item, visit, day, send_after, now, result) -> None:
    _, created = outbox_add(
        dedup_key=_item_dedup_key(item, user.pk),
        recipient=user,
        kind=item["kind"],
        send_after=send_after,
        now=now,
        subject=_reminder_subject([item], {visit.pk: visit}, day),
        participant_id=visit.participant_id,
        visit_id=visit.pk,
        about_date=dt.date.fromisoformat(item["date"]),
        context={"item": item},
    )
    result.created += created


def _add_to_digest(user, entries, day, now, result) -> None:
    """Put today's items into the user's digest for `day`; items found after the digest was
    claimed or sent go out one per email instead (a late item is still worth telling)."""
    items = [item for item, _, _ in entries]
    visits = {visit.pk: visit for _, visit, _ in entries}
    send_after = min(s for _, _, s in entries)
    first_visit = entries[0][1]
    with transaction.atomic():
        row, created = outbox_add(
            dedup_key=f"digest:{user.pk}:{day}",
            recipient=user,
            kind=OutboxKind.REMINDER_DIGEST,
            send_after=send_after,
            now=now,
            subject=_reminder_subject(items, visits, day),
            participant_id=first_visit.participant_id if len(entries) == 1 else None,
            visit_id=first_visit.pk if len(entries) == 1 else None,
            about_date=day,
            context={"items": items, "day": str(day)},
        )
        if created:
            result.created += 1
            return
        # Lock the digest so two scans merging at once do not overwrite each other's items
        # (PostgreSQL; SQLite's IMMEDIATE transactions already run one writer at a time).
        row = OutboxEmail.objects.select_for_update().get(pk=row.pk)
        known = {_item_key(i) for i in row.context.get("items", [])}
        known |= set(row.context.get("late", []))
        new = [e for e in entries if _item_key(e[0]) not in known]
        if not new:
            return
        merged = row.context.get("items", []) + [item for item, _, _ in new]
        all_visits = _visits_by_id(i["visit"] for i in merged)
        # Conditional on no claim: once a worker holds the digest, its items are fixed.
        merged_ok = OutboxEmail.objects.filter(
            pk=row.pk, status=OutboxStatus.PENDING, claimed_at__isnull=True
        ).update(
            context={**row.context, "items": merged},
            subject=_reminder_subject(merged, all_visits, day)[:250],
            send_after=min(row.send_after, send_after),
        )
        if merged_ok:
            result.digest_items_added += len(new)
            return
        OutboxEmail.objects.filter(pk=row.pk).update(
            context={**row.context, "late": sorted(known | {_item_key(e[0]) for e in new})}
        )
    for item, visit, _ in new:
        _add_per_item(user, item, visit, day, now, now, result)


def reminders_scan(*, now: dt.datetime | None = None) -> ReminderScanResult:
    """Create today's reminder rows (each held until REMINDER_HOUR site time) and cancel stale ones.

    Recomputed from the stored visit dates on every run (hourly), so a visit moved, done or
    closed since the last run has its pending reminders cancelled and new ones created.
    """
    now = now or timezone.now()
    result = ReminderScanResult()
    _cancel_stale_reminders(now, result)

    days_before = sorted(set(settings.REMINDER_DAYS_BEFORE))
    today_of_site = {s.pk: now.astimezone(s.tz).date() for s in Site.objects.all()}
    target_dates = {d + dt.timedelta(days=n) for d in today_of_site.values() for n in days_before}
    window_ends = {d + dt.timedelta(days=1) for d in today_of_site.values()}
    coordinators = selectors.staff_by_site(StaffRole.COORDINATOR)

    # {user: {local day: [(item, visit, send_after)]}}
    wanted: dict = defaultdict(lambda: defaultdict(list))
    users = {}
    for visit in selectors.visits_for_reminders(target_dates, window_ends):
        site = visit.participant.site
        today = today_of_site[site.pk]
        send_after = local_time_on(today, settings.REMINDER_HOUR, site.tz)
        for item in _reminder_items(visit, today, days_before):
            for user in coordinators.get(site.pk, []):
                users[user.pk] = user
                wanted[user.pk][today].append((item, visit, send_after))

    for user_id, by_day in wanted.items():
        user = users[user_id]
        for day, entries in by_day.items():
            if user.staff_profile.reminder_mode == ReminderMode.PER_ITEM:
                for item, visit, send_after in entries:
                    _add_per_item(user, item, visit, day, send_after, now, result)
            else:
                _add_to_digest(user, entries, day, now, result)
    return result


# --- Overdue safety assessments ----------------------------------------------------------------

# The key of the PostgreSQL advisory lock that makes overdue scans run one at a time (any
# constant no other code uses; "SLE-001", then 1 for this scan).
OVERDUE_SCAN_LOCK = 5_100_101


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


def _group_by_visit(assessments, *, by_due_time=True) -> dict:
    groups = defaultdict(list)
    for a in assessments:
        groups[(a.visit_id, a.due_at if by_due_time else None)].append(a)
    return groups


class _Recipients:
    """Who is told of a site's safety problems, each list read once per scan and only if needed.

    Site alerts (overdue, missed): the site's coordinators and investigators, and the medical
    monitors (all sites). A site with no coordinator or investigator who can be emailed falls
    back to the study managers (logged as an error: the site's own staff must be told).
    Escalations: the study managers and the medical monitors.
    """

    def __init__(self):
        self._cache = {}

    def _get(self, name, load):
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def coordinators(self, site_id):
        return self._get("coord", lambda: selectors.staff_by_site(StaffRole.COORDINATOR)).get(
            site_id, []
        )

    def investigators(self, site_id):
        return self._get("inv", lambda: selectors.staff_by_site(StaffRole.INVESTIGATOR)).get(
            site_id, []
        )

    def managers(self):
        return self._get("managers", selectors.study_managers)

    def monitors(self):
        return self._get("monitors", selectors.medical_monitors)

    def for_site(self, visit: Visit, what: str) -> list:
        site_staff = _unique(
            self.coordinators(visit.participant.site_id),
            self.investigators(visit.participant.site_id),
        )
        if site_staff:
            return _unique(site_staff, self.monitors())
        log.error(
            "%s %s: site %s has no active coordinator or investigator with an email address; "
            "the %s alert goes to the study managers and medical monitors instead.",
            visit.participant.label,
            visit.code,
            visit.participant.site.code,
            what,
        )
        return _unique(self.managers(), self.monitors())

    def for_escalation(self, visit: Visit) -> list:
        if not self.managers():
            log.error(
                "%s %s: no active study manager with an email address to escalate to.",
                visit.participant.label,
                visit.code,
            )
        return _unique(self.managers(), self.monitors())


def _unique(*groups) -> list:
    seen, result = set(), []
    for group in groups:
        for user in group:
            if user.pk not in seen:
                seen.add(user.pk)
                result.append(user)
    return result


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


def _safety_emails(kind, group, recipients, dedup_key, subject, now, result) -> None:
    first = group[0]
    visit = first.visit
    context = {"assessments": [a.pk for a in group], "due_at": first.due_at.isoformat()}
    for user in recipients:
        _, created = outbox_add(
            dedup_key=f"{dedup_key}:u{user.pk}",
            recipient=user,
            kind=kind,
            send_after=now,
            now=now,
            subject=subject,
            participant_id=visit.participant_id,
            visit_id=visit.pk,
            assessment_id=first.pk if len(group) == 1 else None,
            context=context,
        )
        result.emails += created


def _about(visit: Visit, count: int, what: str) -> str:
    return f"SLE-001 {visit.participant.label} {visit.code}: {count} safety assessment(s) {what}"


@transaction.atomic
def overdue_scan(*, now: dt.datetime | None = None) -> OverdueScanResult:
    """Flag safety assessments past due with no result (once each) and email the site's
    coordinators and investigators and the medical monitors; escalate to the study managers and
    medical monitors those still without a result OVERDUE_ESCALATION_HOURS after the flag; and
    alert the same site people, once per visit, of safety assessments recorded as missed (a
    missing safety item is an important protocol deviation, PROTOCOL.md).

    One indexed query per step over stored due times, never a loop over participants. A result
    recorded later takes the row out of both scans; overdue_flagged_at stays, so how late the
    result was remains known (Assessment.late_by). An item nobody can be emailed about is left
    unflagged (unescalated, unalerted) so the next scan tries again, and counted (banner).

    Participants lost to follow-up are alerted about like everyone else (selectors).
    A visit marked missed after its items were flagged: the pending overdue emails are cancelled
    at send time and escalation no longer applies (the items are not pending), but the missed
    alert below covers the items.
    """
    now = now or timezone.now()
    _serialise_scan()
    result = OverdueScanResult()
    recipients = _Recipients()
    related = ("visit__participant__site", "visit__definition", "definition")

    to_flag = list(selectors.assessments_to_flag(now).select_related(*related).order_by("due_at"))
    flag_ids = []
    for (visit_id, due_at), group in _group_by_visit(to_flag).items():
        visit = group[0].visit
        people = recipients.for_site(visit, "overdue")
        if not people:
            _nobody(group, "overdue", result)
            continue
        flag_ids += [a.pk for a in group]
        _safety_emails(
            OutboxKind.SAFETY_OVERDUE,
            group,
            people,
            f"overdue:v{visit_id}:{due_at.isoformat()}",
            _about(visit, len(group), "overdue"),
            now,
            result,
        )
    # Conditional on no flag yet: harmless now that scans are serialised, and keeps a flag time.
    result.flagged = Assessment.objects.filter(
        pk__in=flag_ids, overdue_flagged_at__isnull=True
    ).update(overdue_flagged_at=now)

    cutoff = now - dt.timedelta(hours=settings.OVERDUE_ESCALATION_HOURS)
    to_escalate = list(
        selectors.assessments_to_escalate(cutoff)
        .select_related(*related)
        .order_by("overdue_flagged_at")
    )
    escalate_ids = []
    for (visit_id, due_at), group in _group_by_visit(to_escalate).items():
        visit = group[0].visit
        people = recipients.for_escalation(visit)
        if not people:
            _nobody(group, "to escalate", result)
            continue
        escalate_ids += [a.pk for a in group]
        _safety_emails(
            OutboxKind.SAFETY_ESCALATION,
            group,
            people,
            f"escalation:v{visit_id}:{due_at.isoformat()}",
            _about(visit, len(group), "overdue"),
            now,
            result,
        )
    result.escalated = Assessment.objects.filter(
        pk__in=escalate_ids, escalated_at__isnull=True
    ).update(escalated_at=now)

    missed = list(
        selectors.missed_safety_to_alert(now)
        .select_related(*related)
        .order_by("visit_id", "definition__order")
    )
    alerted = []
    for (visit_id, _), group in _group_by_visit(missed, by_due_time=False).items():
        visit = group[0].visit
        people = recipients.for_site(visit, "missed-safety")
        if not people:
            _nobody(group, "missed", result)
            continue
        alerted += [MissedSafetyAlert(assessment=a, alerted_at=now) for a in group]
        # One email per visit and person for the items missed together (a visit marked missed);
        # an item of the same visit recorded not done later gets an email of its own.
        _safety_emails(
            OutboxKind.SAFETY_MISSED,
            group,
            people,
            f"missed:v{visit_id}:a{min(a.pk for a in group)}",
            _about(visit, len(group), "MISSED (important deviation)"),
            now,
            result,
        )
    MissedSafetyAlert.objects.bulk_create(alerted, ignore_conflicts=True)
    result.missed = len(alerted)
    return result


# --- Sending -----------------------------------------------------------------------------------


def outbox_claim(pk: int, *, now: dt.datetime) -> uuid.UUID | None:
    """Claim one due row for sending. Returns the claim token, or None if someone else holds it.

    One conditional UPDATE: of two workers racing for the row exactly one changes it (PostgreSQL
    re-checks the WHERE clause on the locked row; SQLite runs one writer at a time). A claim older
    than OUTBOX_CLAIM_TIMEOUT_SECONDS belongs to a dead worker and may be taken over.
    """
    token = uuid.uuid4()
    claimed = (
        selectors.outbox_claimable(now)
        .filter(pk=pk)
        .update(claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def _finish(pk: int, token: uuid.UUID, **fields) -> bool:
    done = OutboxEmail.objects.filter(pk=pk, claim_token=token).update(**fields)
    if not done:
        log.warning("Outbox row %s: claim lost before finishing (worker too slow?).", pk)
    return bool(done)


def _safety_context(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    wanted = row.context.get("assessments", [])
    due_at = row.context.get("due_at")
    assessments = list(
        Assessment.objects.filter(pk__in=wanted)
        .select_related("definition", "visit__definition", "visit__participant__site")
        .order_by("definition__order")
    )
    if row.kind == OutboxKind.SAFETY_MISSED:
        still = [a for a in assessments if a.status == AssessmentStatus.MISSED]
        if not still:
            return "the assessments are no longer recorded as missed", {}
    else:
        still = [
            a
            for a in assessments
            if a.status == AssessmentStatus.PENDING and a.due_at.isoformat() == due_at
        ]
    if not still:
        if assessments and all(a.status == AssessmentStatus.MISSED for a in assessments):
            return "the visit was recorded as missed: the missed-safety alert replaces this", {}
        return "results recorded, or the assessments were moved or closed", {}
    visit = still[0].visit
    tz = visit.participant.site.tz
    flagged = still[0].overdue_flagged_at
    return None, {
        "participant": visit.participant.label,
        "site": visit.participant.site.code,
        "visit_code": visit.code,
        "visit_name": visit.definition.name,
        "assessments": [{"code": a.definition.code, "name": a.definition.name} for a in still],
        # Formatted here: the template engine would show aware datetimes in UTC.
        "due_at": f"{still[0].due_at.astimezone(tz):%a %d %b %Y %H:%M %Z}",
        "flagged_at": f"{flagged.astimezone(tz):%a %d %b %Y %H:%M %Z}" if flagged else "",
        "hours_overdue": int((now - still[0].due_at).total_seconds() // 3600),
        "escalation_hours": settings.OVERDUE_ESCALATION_HOURS,
        "url": participant_url(visit.participant_id),
        "admin_url": admin_url("admin:schedule_visit_change", visit.pk),
    }


def _reminder_context(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    items = _row_items(row)
    visits = _visits_by_id(i["visit"] for i in items)
    views, problems = [], []
    for item in items:
        problem = _item_problem(item, visits.get(item["visit"]), now)
        if problem:
            problems.append(problem)
        else:
            views.append(_item_view(item, visits[item["visit"]]))
    if not views:
        return "; ".join(problems), {}
    if row.kind == OutboxKind.REMINDER_DIGEST:
        return None, {"items": views, "day": dt.date.fromisoformat(row.context["day"])}
    return None, {"item": views[0]}


def _prepare(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    """Re-validate a row at send time: (why it is cancelled, None) or (None, template context)."""
    if row.recipient is None or not row.recipient.is_active:
        return "the recipient's account is gone or inactive", {}
    if row.kind in REMINDER_KINDS:
        return _reminder_context(row, now)
    if row.kind == OutboxKind.ENROLLMENT_REPORT:
        return _enrollment_report_context(row)
    return _safety_context(row, now)


def _retry_or_fail(row: OutboxEmail, token: uuid.UUID, exc: Exception, now: dt.datetime) -> str:
    """After a failed attempt: release the claim with a back-off, or give up (FAILED, shown on
    the staff banner and /healthz for safety kinds) after OUTBOX_MAX_ATTEMPTS claims."""
    pk = row.pk
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _finish(
            pk,
            token,
            status=OutboxStatus.FAILED,
            last_error=error,
            failed_at=now,
            claimed_at=None,
        )
        log.error("Outbox row %s failed for good after %s attempts: %s", pk, row.attempts, error)
        return "failed"
    wait = RETRY_BACKOFF_MINUTES[min(row.attempts, len(RETRY_BACKOFF_MINUTES)) - 1]
    _finish(
        pk,
        token,
        last_error=error,
        send_after=now + dt.timedelta(minutes=wait),
        claimed_at=None,
        claim_token=None,
    )
    log.warning(
        "Outbox row %s not sent (attempt %s), retry in %s min: %s", pk, row.attempts, wait, error
    )
    return "retry"


def outbox_send(pk: int, *, now: dt.datetime | None = None) -> str:
    """Claim, re-validate and send one row. Returns what happened: sent, cancelled, retry,
    failed, or skipped (not due, not pending, or claimed by another worker)."""
    now = now or timezone.now()
    token = outbox_claim(pk, now=now)
    if token is None:
        return "skipped"
    row = OutboxEmail.objects.select_related("recipient").get(pk=pk)
    try:
        # A savepoint, so a database error here leaves an enclosing transaction usable.
        with transaction.atomic():
            problem, context = _prepare(row, now)
            if not problem:
                subject, text, html = render_email(TEMPLATE_OF_KIND[row.kind], context)
    except Exception as exc:  # a bug or bad data in this row: retried, then FAILED, and shown
        log.exception("Outbox row %s (%s) could not be prepared for sending.", pk, row.kind)
        return _retry_or_fail(row, token, exc, now)
    if problem:
        _finish(
            pk,
            token,
            status=OutboxStatus.CANCELLED,
            cancelled_reason=problem[:250],
            claimed_at=None,
        )
        return "cancelled"
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [row.to_email],
        headers={"Message-ID": _message_id(pk), "X-SLE001-Outbox": row.dedup_key},
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP and socket errors of every kind: retried, and shown
        return _retry_or_fail(row, token, exc, now)
    # The at-least-once window (module docstring) is between send() above and this UPDATE.
    _finish(
        pk,
        token,
        status=OutboxStatus.SENT,
        sent_at=timezone.now(),
        subject=subject[:250],
        body_text=text,
        body_html=html,
        last_error="",
    )
    return "sent"


@dataclass
class DeliveryResult:
    counts: Counter = field(default_factory=Counter)
    safety_failed: int = 0  # safety emails FAILED in the last 7 days and not resent

    def problems(self) -> dict:
        return {"safety_emails_failed": self.safety_failed}

    def __str__(self) -> str:
        if not self.counts:
            return "no email due"
        return ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))


def outbox_deliver_due(*, now: dt.datetime | None = None, limit: int = 500) -> DeliveryResult:
    """Send every due pending row (the every-minute job, and what the commands run).

    Rows are claimed one at a time, so a worker that dies holds at most the row it was sending;
    the rest are sent by the next run, and that row once its claim is stale. An unexpected error
    on one row is logged and the loop goes on: one bad row never holds up the others (outbox_send
    itself retries, then fails, a row it cannot prepare).
    """
    result = DeliveryResult()
    start = now or timezone.now()
    ids = list(
        selectors.outbox_claimable(start)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        try:
            outcome = outbox_send(pk, now=now)
        except Exception:  # e.g. a database error while claiming: the row is tried next run
            log.exception("Outbox row %s: unexpected error; going on with the next row.", pk)
            outcome = "error"
        result.counts[outcome] += 1
    result.safety_failed = selectors.safety_emails_failed(start).count()
    return result


def outbox_resend(rows, *, now: dt.datetime | None = None) -> int:
    """Put rows back in the queue (the admin's resend action): pending, due now, attempts reset."""
    now = now or timezone.now()
    ids = list(rows.values_list("pk", flat=True))
    count = OutboxEmail.objects.filter(pk__in=ids).update(
        status=OutboxStatus.PENDING,
        send_after=now,
        claimed_at=None,
        claim_token=None,
        attempts=0,
        last_error="",
        cancelled_reason="",
        failed_at=None,
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: enqueue_send(pk))
    return count


# --- Monthly enrollment report ----------------------------------------------------------------


def enrollment_report_queue(*, now: dt.datetime | None = None) -> int:
    """Queue last month's enrollment report for every study manager; returns rows created.

    Run daily: the first run on or after the 1st queues it, later runs find the row and add
    nothing, so a beat that was down on the 1st still sends the report when it is back.
    """
    now = now or timezone.now()
    month = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    created = 0
    for manager in selectors.study_managers():
        _, new = outbox_add(
            dedup_key=f"enrollment-report:{month:%Y-%m}:{manager.pk}",
            recipient=manager,
            kind=OutboxKind.ENROLLMENT_REPORT,
            send_after=now,
            now=now,
            subject=f"SLE-001 enrollment report, {month:%B %Y}",
            about_date=month,
            context={"month": month.isoformat()},
        )
        created += new
    return created


def _enrollment_report_context(row: OutboxEmail) -> tuple[str | None, dict]:
    # Built at send time: the counts are the latest, and carry no participant ids at all.
    report = enrollment_report(dt.date.fromisoformat(row.context["month"]))
    totals = report.totals
    return None, {
        "report": report,
        "totals": totals,
        "rows": [*report.sites, totals],
        "status_counts": [
            (label, totals.by_status.get(value, 0)) for value, label in Status.choices
        ],
        "url": f"{settings.SITE_URL}/participants/",
    }


# --- Heartbeats --------------------------------------------------------------------------------


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
