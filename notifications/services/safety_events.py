"""Safety-event alerts (every minute, the scan_safety_events job): gradings of CRS/ICANS and of
grade >= 3 events, alerting lab values and the SAE reporting clock (PROTOCOL.md "Safety standards
and clocks"); and what those emails say when sent.

    what                              to whom                       when        dedup key
    CRS/ICANS graded 1                medical monitors              next scan   safety-event:{e}:grade:{g}
    CRS/ICANS >= 2, any AE >= 3       site investigators + monitors next scan   safety-event:{e}:grade:{g}
    lab value with `alert` set        site investigators + monitors next scan   safety-lab:{lab}:value:{v}
    SAE unreported, due in <= 12 h    site investigators + coords   due - 12 h  sae:{e}:reminder:{due}
    SAE unreported at its due time    site investigators + monitors due         sae:{e}:overdue:{due}
    the same                          study managers                due         sae:{e}:escalation:{due}

Each key ends in ":to:{user id}". An SAE key names its clock's due instant (UTC): a clock started
again (an event serious again after a downgrade, a corrected awareness time) is alerted anew.
"Any CRS/ICANS: the medical monitor the same day; grade >= 2 immediately": the every-minute scan
is "immediately", and grade 1 is sent at once as well.

Exactly once. A grading or lab value is claimed by a conditional UPDATE of its alerted_at (still
NULL) in the transaction that creates its rows: of two scans racing for it, PostgreSQL makes the
second UPDATE wait for the first's commit and then match nothing; SQLite lets one writer in at a
time (BEGIN IMMEDIATE). A grading with nothing to send (a grade 1-2 AE, a grade already alerted)
is marked too, so the partial index grading_alert_scan_idx holds only new rows. The SAE clock has
no column to claim: a stage is done once its rows exist, all created in one transaction, and the
unique dedup keys make a racing scan's rows the same rows. A report recorded before a stage takes
the event out of the scan; one recorded after its rows were queued cancels them at send time.

Nobody to alert. A role the rule names with nobody who can be emailed is logged as an ERROR and
the study managers and medical monitors are told instead; with nobody at all the item is left
unclaimed for the next scan, counted, and shown (staff banner, /healthz: selectors.job_problems).
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from notifications import selectors
from notifications.models import OutboxEmail, OutboxKind
from notifications.services.emails import participant_url
from notifications.services.outbox import outbox_add
from notifications.services.recipients import unique_people
from participants.models import StaffRole
from safety.clocks import REMINDER_BEFORE_DUE
from safety.models import AdverseEvent, EventKind, Grading, LabResult, Seriousness

log = logging.getLogger(__name__)

CRS_ICANS = (EventKind.CRS, EventKind.ICANS)
# From which grade the site's investigators are told as well as the medical monitors.
SITE_FROM_GRADE_CRS_ICANS = 2  # "grade >= 2 immediately"
SITE_FROM_GRADE = 3  # "grade >= 3 AE: alert the investigator/medical monitor"


@dataclass(frozen=True)
class _Audience:
    """Who is told: roles at the event's site, and roles that see every site."""

    site_roles: tuple = ()
    central_roles: tuple = ()


MONITORS = _Audience(central_roles=(StaffRole.MEDICAL_MONITOR,))
INVESTIGATORS_AND_MONITORS = _Audience((StaffRole.INVESTIGATOR,), (StaffRole.MEDICAL_MONITOR,))
SITE_TEAM = _Audience((StaffRole.INVESTIGATOR, StaffRole.COORDINATOR))
MANAGERS = _Audience(central_roles=(StaffRole.STUDY_MANAGER,))


@dataclass
class SafetyEventScanResult:
    gradings: int = 0  # gradings alerted on (those needing no email are not counted)
    labs: int = 0
    # SAE clock stages queued: {"reminder": n, "overdue": n, "escalation": n}
    sae_stages: Counter = field(default_factory=Counter)
    emails: int = 0
    # Items left unclaimed because nobody at all could be emailed: retried every scan, and shown.
    nobody_to_alert: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.gradings} grading(s) and {self.labs} lab value(s) alerted, SAE clock: "
            f"{self.sae_stages['reminder']} reminder(s), {self.sae_stages['overdue']} overdue, "
            f"{self.sae_stages['escalation']} escalated; {self.emails} email(s) queued"
        )
        if self.nobody_to_alert:
            text += f", {self.nobody_to_alert} with nobody to alert"
        return text

    def problems(self) -> dict:
        return {"safety_events_nobody_to_alert": self.nobody_to_alert}


def safety_events_scan(*, now: dt.datetime | None = None) -> SafetyEventScanResult:
    """Queue the alerts of new gradings, alerting lab values and SAE clock stages (module
    docstring), each once. Three indexed queries when there is nothing to do."""
    now = now or timezone.now()
    result = SafetyEventScanResult()
    people = _People()
    _alert_gradings(now, people, result)
    _alert_labs(now, people, result)
    _run_sae_clocks(now, people, result)
    return result


def safety_event_context(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    """Re-validate a row of this module at send time: (why it is cancelled, {}) or (None,
    template context)."""
    view = {OutboxKind.SAFETY_EVENT: _grading_view, OutboxKind.SAFETY_EVENT_LAB: _lab_view}
    return view[row.kind](row) if row.kind in view else _sae_view(row, now)


# --- The rules (the one place each is decided) ---------------------------------------------------


def grading_audience(kind: str, grade: int) -> _Audience | None:
    """Who is told of an event graded `grade`, or None when nobody needs to be."""
    if kind in CRS_ICANS:
        return INVESTIGATORS_AND_MONITORS if grade >= SITE_FROM_GRADE_CRS_ICANS else MONITORS
    return INVESTIGATORS_AND_MONITORS if grade >= SITE_FROM_GRADE else None


def sae_stages(event: AdverseEvent, now: dt.datetime) -> list[tuple[str, _Audience]]:
    """The SAE clock stages due at `now` for an unreported serious event (the scan reads only
    those due within REMINDER_BEFORE_DUE). At the due instant itself the report is overdue; the
    reminder is not sent once it is (the overdue email says more)."""
    if now < event.sponsor_report_due_at:
        return [(OutboxKind.SAE_CLOCK_REMINDER, SITE_TEAM)]
    return [
        (OutboxKind.SAE_CLOCK_OVERDUE, INVESTIGATORS_AND_MONITORS),
        (OutboxKind.SAE_CLOCK_ESCALATION, MANAGERS),
    ]


# --- The scan's three steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Alert:
    kind: str
    key: str  # the dedup key without ":to:{user id}"
    participant_id: int
    what: str  # names it in the subject and the log: study ids only
    context: dict  # what the row is re-validated against at send time


def _alert_gradings(now: dt.datetime, people: "_People", result: SafetyEventScanResult) -> None:
    gradings = list(selectors.gradings_to_alert())
    if not gradings:
        return
    done = selectors.grades_alerted({g.event_id for g in gradings})
    waiting, quiet = set(), []
    for g in gradings:
        event, grade = g.event, (g.event_id, g.grade)
        audience = grading_audience(event.kind, g.grade)
        if audience is None or grade in done:
            quiet.append(g.pk)
        elif grade not in waiting:  # else an earlier grading of this grade found nobody
            alert = _Alert(
                OutboxKind.SAFETY_EVENT,
                f"safety-event:{event.pk}:grade:{g.grade}",
                event.participant_id,
                f"{event.reference} {event.get_kind_display()} grade {g.grade}",
                {"event": event.pk, "grading": g.pk, "grade": g.grade},
            )
            recipients = people.resolve(audience, event.participant.site, alert.what, result)
            if not recipients:
                waiting.add(grade)
                continue
            result.gradings += _claim_and_queue(Grading, g.pk, alert, recipients, now, result)
            done.add(grade)  # alerted now, or by the scan that claimed it first
    # Nothing to send for these; marked all the same so the scan never reads them again.
    Grading.objects.filter(pk__in=quiet, alerted_at__isnull=True).update(alerted_at=now)


def _alert_labs(now: dt.datetime, people: "_People", result: SafetyEventScanResult) -> None:
    for lab in selectors.labs_to_alert():
        visit, value = lab.assessment.visit, _plain(lab.value)
        alert = _Alert(
            OutboxKind.SAFETY_EVENT_LAB,
            f"safety-lab:{lab.pk}:value:{value}",
            visit.participant_id,
            f"{visit.participant.label} {visit.code} {lab.code} {value} {lab.unit}",
            {"lab": lab.pk, "value": value},
        )
        site = visit.participant.site
        recipients = people.resolve(INVESTIGATORS_AND_MONITORS, site, alert.what, result)
        if recipients:
            result.labs += _claim_and_queue(LabResult, lab.pk, alert, recipients, now, result)


def _run_sae_clocks(now: dt.datetime, people: "_People", result: SafetyEventScanResult) -> None:
    events = list(selectors.sae_clocks_running(now + REMINDER_BEFORE_DUE))
    done = selectors.sae_stages_alerted(events) if events else set()
    for event in events:
        for kind, audience in sae_stages(event, now):
            if (event.pk, kind, event.sponsor_report_due_at.isoformat()) in done:
                continue
            stage, due = kind.removeprefix("sae_clock_"), event.sponsor_report_due_at
            alert = _Alert(
                kind,
                f"sae:{event.pk}:{stage}:{due.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}",
                event.participant_id,
                f"{event.reference} SAE report {stage}",
                {"event": event.pk, "due_at": due.isoformat()},
            )
            recipients = people.resolve(audience, event.participant.site, alert.what, result)
            if not recipients:
                continue
            with transaction.atomic():  # all of a stage's rows or none: a stage with rows is done
                _queue(alert, recipients, now, result)
            result.sae_stages[stage] += 1


def _claim_and_queue(model, pk: int, alert: _Alert, recipients, now, result) -> bool:
    """Claim one grading or lab value and create its rows, in one transaction. False when
    another scan claimed it first (and created the same rows)."""
    with transaction.atomic():
        if not model.objects.filter(pk=pk, alerted_at__isnull=True).update(alerted_at=now):
            return False
        _queue(alert, recipients, now, result)
        return True


def _queue(alert: _Alert, recipients: list, now: dt.datetime, result) -> None:
    for user in recipients:
        _, created = outbox_add(
            dedup_key=f"{alert.key}:to:{user.pk}",
            recipient=user,
            kind=alert.kind,
            send_after=now,
            now=now,
            subject=f"SLE-001 {alert.what}",
            participant_id=alert.participant_id,
            context=alert.context,
        )
        result.emails += created


# --- Recipients ----------------------------------------------------------------------------------


class _People:
    """Who holds each role ({site id: [users]} for site roles), read once per scan if needed."""

    def __init__(self):
        self._cache = {}

    _CENTRAL = {
        StaffRole.MEDICAL_MONITOR: selectors.medical_monitors,
        StaffRole.STUDY_MANAGER: selectors.study_managers,
    }

    def _of(self, role: str):
        if role not in self._cache:
            load = self._CENTRAL.get(role)
            self._cache[role] = load() if load else selectors.staff_by_site(role)
        return self._cache[role]

    def resolve(self, audience: _Audience, site, what: str, result) -> list:
        """The audience's people; a group of it with nobody falls back to the study managers and
        medical monitors (logged as an ERROR: those people should have been told). [] when
        nobody at all can be emailed: then counted and logged, and the caller leaves the item
        for the next scan."""
        at_site = unique_people(*(self._of(r).get(site.pk, []) for r in audience.site_roles))
        central = unique_people(*(self._of(r) for r in audience.central_roles))
        missing = []
        if audience.site_roles and not at_site:
            missing.append(f"{_roles(audience.site_roles)} at site {site.code}")
        if audience.central_roles and not central:
            missing.append(_roles(audience.central_roles))
        people = unique_people(at_site, central)
        if missing:
            log.error(
                "%s: no active %s with an email address; the alert goes to the study managers "
                "and medical monitors instead.",
                what,
                " and no ".join(missing),
            )
            fallback = (StaffRole.STUDY_MANAGER, StaffRole.MEDICAL_MONITOR)
            people = unique_people(people, *(self._of(r) for r in fallback))
        if not people:
            result.nobody_to_alert += 1
            log.error("%s: NOBODY can be emailed; left for the next scan.", what)
        return people


def _roles(roles) -> str:
    return " or ".join(StaffRole(r).label.lower() for r in roles)


# --- What an email says --------------------------------------------------------------------------


def _grading_view(row: OutboxEmail) -> tuple[str | None, dict]:
    gradings = Grading.objects.select_related("event__participant__site")
    grading = gradings.filter(pk=row.context.get("grading")).first()
    if grading is None:
        return "the grading was deleted", {}
    event = grading.event
    audience = grading_audience(event.kind, grading.grade)
    return None, {
        **_event_view(event),
        "grade": grading.grade,
        "reasons": [str(r) for r in grading.reasons],
        "assessed_at": _local(grading.assessed_at, event.participant.site.tz),
        "investigators_told": audience is INVESTIGATORS_AND_MONITORS,
        "is_crs_icans": event.kind in CRS_ICANS,
    }


def _lab_view(row: OutboxEmail) -> tuple[str | None, dict]:
    labs = LabResult.objects.select_related(
        "assessment__visit__participant__site", "assessment__visit__definition"
    )
    lab = labs.filter(pk=row.context.get("lab")).first()
    if lab is None:
        return "the lab result was deleted", {}
    value = _plain(lab.value)
    if not lab.alert:
        return f"the value was corrected to {value} {lab.unit}, which does not alert", {}
    # A correction that still alerts keeps the lab's alerted_at (safety.services.labs): this row
    # is then the only alert, so it goes out with the value as it stands.
    queued = row.context.get("value")
    visit = lab.assessment.visit
    participant = visit.participant
    return None, {
        "participant": participant.label,
        "site": participant.site.code,
        "visit_code": visit.code,
        "code": lab.code,
        "value": value,
        "corrected_from": queued if queued != value else "",
        "unit": lab.unit,
        "grade": lab.grade,
        "reasons": [str(r) for r in lab.reasons],
        "recorded_at": _local(lab.recorded_at, participant.site.tz),
        "url": participant_url(participant.pk),
    }


def _sae_view(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    events = AdverseEvent.objects.select_related("participant__site")
    event = events.filter(pk=row.context.get("event")).first()
    if event is None:
        return "the adverse event was deleted", {}
    tz = event.participant.site.tz
    if event.sponsor_reported_at is not None:
        return f"reported to the sponsor {_local(event.sponsor_reported_at, tz)}", {}
    if not event.serious or event.sponsor_report_due_at is None:
        return "the event is no longer recorded as serious", {}
    due, criteria = event.sponsor_report_due_at, Seriousness.values
    if due.isoformat() != row.context.get("due_at"):
        return f"the SAE clock changed (now due {_local(due, tz)}): its own alerts replace this", {}
    return None, {
        **_event_view(event),
        "grade": event.grade,
        "criteria": [Seriousness(c).label for c in event.seriousness_criteria if c in criteria],
        "aware_at": _local(event.aware_at, tz),
        "due_at": _local(due, tz),
        "due_at_utc": f"{due.astimezone(dt.UTC):%a %Y-%m-%d %H:%M} UTC",
        "left": _span(due - now) if now < due else "",
        "late": _span(now - due) if now >= due else "",
    }


def _event_view(event: AdverseEvent) -> dict:
    """An event as every email names it: its reference and kind, no identifiers beyond study ids
    (the free-text term stays out; the CTCAE term is from a fixed list)."""
    participant = event.participant
    return {
        "reference": event.reference,
        "participant": participant.label,
        "site": participant.site.code,
        "kind": event.get_kind_display(),
        "ctcae_term": event.ctcae_term,
        "serious": event.serious,
        "url": participant_url(participant.pk),
    }


def _local(instant: dt.datetime, tz) -> str:
    # Formatted here: the template engine would show aware datetimes in UTC.
    return f"{instant.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _plain(value) -> str:
    """A Decimal without trailing zeros (400.0000 -> "400"): the same text from either database."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
