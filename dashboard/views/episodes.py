"""CRS and ICANS episodes: recording findings (the grade is computed, never entered), re-assessing
an open episode, the episodes section of the participant page, and recording a death linked to
its adverse event. Writes go through safety.services via dashboard/episode_forms.py.

As dashboard/views/safety.py: everything a message says is known before the service commits or
comes back from it in memory, so nothing after a committed change touches the database.
"""

import re
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard import selectors as dashboard_selectors
from dashboard.episode_forms import FINDINGS_FORMS, CrsForm, DeathForm, IcansForm
from dashboard.tables.safety import fmt_moment
from participants import access
from participants.transitions import is_allowed
from safety import grading
from safety.models import AdverseEvent, EventKind, Grading
from safety.services.crs_icans import HOLD_FROM_GRADE, Assessed

EPISODE_KINDS = (EventKind.CRS, EventKind.ICANS)
SHORT = {EventKind.CRS: "CRS", EventKind.ICANS: "ICANS"}


def participant_url(participant_id: int, anchor: str = "") -> str:
    url = reverse("dashboard:participant", args=[participant_id])
    return f"{url}#{anchor}" if anchor else url


# --- What the pages show ------------------------------------------------------------------------


def _words(table: dict, key, absent: str) -> str:
    return (table.get(key) or (0, ""))[1] or absent


def findings_text(kind: str, findings: dict) -> str:
    """The findings as entered, in the grading's words ("38.6 °C, hypotension needing one
    vasopressor, low-flow oxygen"); "" for a grading without findings (a death's grade 5)."""
    if not findings:
        return ""
    f = findings
    if kind == EventKind.CRS:
        parts = [f"{f.get('temperature_c')} °C"]
        if f.get("antipyretic_or_anticytokine"):
            parts.append("after antipyretic or anti-cytokine therapy")
        parts.append(_words(grading.HYPOTENSION, f.get("hypotension"), "no hypotension"))
        parts.append(_words(grading.OXYGEN, f.get("oxygen"), "no oxygen"))
        return ", ".join(parts)
    ice = f.get("ice_score")
    parts = ["ICE score cannot be assessed" if ice is None else f"ICE score {ice}"]
    parts.append(_words(grading.CONSCIOUSNESS, f.get("consciousness"), "awake"))
    parts.append(_words(grading.SEIZURE, f.get("seizure"), "no seizure"))
    if f.get("motor_weakness"):
        parts.append(grading.MOTOR_WEAKNESS[1])
    parts.append(_words(grading.CEREBRAL_EDEMA, f.get("cerebral_edema"), "no cerebral edema"))
    return ", ".join(parts)


_GRADE_PREFIX = re.compile(r"^grade \d: ")


def reasons_text(reasons) -> str:
    return "; ".join(_GRADE_PREFIX.sub("", reason) for reason in reasons)


@dataclass
class GradingRow:
    grade: int
    assessed: str  # site time
    findings: str
    why: str  # the reasons, without the "grade N: " the grade column already says
    recorded: str  # who, when (site time)


@dataclass
class Episode:
    event: AdverseEvent
    short: str
    gradings: list[GradingRow]
    hold: str  # "" when no hold is open
    actions: list[tuple[str, str]] = field(default_factory=list)  # (url, title)


def _grading_row(g: Grading, kind: str, tz) -> GradingRow:
    who = g.recorded_by.get_username()
    return GradingRow(
        grade=g.grade,
        assessed=fmt_moment(g.assessed_at, tz),
        findings=findings_text(kind, g.findings),
        why=reasons_text(g.reasons),
        recorded=f"{who}, {fmt_moment(g.recorded_at, tz)}",
    )


def _actions(event: AdverseEvent) -> list[tuple[str, str]]:
    if event.resolved_on is not None:
        return []
    return [
        (reverse("dashboard:episode_reassess", args=[event.pk]), "Re-assess"),
        (reverse("dashboard:ae_action", args=[event.pk, "resolve"]), "Resolve"),
    ]


def episodes_of(participant, events, can_record: bool) -> list[Episode]:
    """The participant's CRS/ICANS episodes among `events` (rows with participant__site), each
    with every grading in time order and its open hold: two queries however many episodes."""
    episodes = [e for e in events if e.kind in EPISODE_KINDS]
    if not episodes:
        return []
    gradings = Grading.objects.select_related("recorded_by").order_by("assessed_at", "pk")
    # On the rows the caller already read: no second read of the events.
    prefetch_related_objects(episodes, Prefetch("gradings", queryset=gradings))
    holds = {h.source: h for h in participant.infusion_holds.filter(released_at__isnull=True)}
    tz = participant.site.tz
    rows = []
    for event in episodes:
        hold = holds.get(event.reference)
        rows.append(
            Episode(
                event=event,
                short=SHORT[event.kind],
                gradings=[_grading_row(g, event.kind, tz) for g in event.gradings.all()],
                hold=f"since {fmt_moment(hold.opened_at, tz)} ({hold.reason})" if hold else "",
                actions=_actions(event) if can_record else [],
            )
        )
    return rows


# --- The message after an assessment -------------------------------------------------------------


def assessed_message(short: str, label: str, assessed: Assessed, was_held: bool) -> str:
    """What the coordinator reads after saving: the computed grade and why, and the hold.
    Built from the service's in-memory result only (nothing here reads the database)."""
    grade = assessed.grade
    why = reasons_text(grade.reasons)
    if assessed.event is None:
        return f"No {short} by ASTCT: {why}. Nothing was recorded."
    reference = f"{label}-AE{assessed.event.number}"
    text = f"{short} grade {grade.grade}: {why} ({reference})."
    if grade.grade >= HOLD_FROM_GRADE:
        text += " Next infusion on hold until grade 1 or less."
    elif was_held:
        text += " The hold on the next infusion is released."
    if grade.grade == 0:
        text += f" The episode stays open at grade {assessed.event.grade} until it is resolved."
    return text


# --- Recording findings ---------------------------------------------------------------------------


def _findings_page(request, form, participant, episode: Episode | None = None):
    """Show `form`; on a valid POST the service grades the findings and the participant page
    says the grade and why. Refusals stay on the form, nothing saved."""
    target = participant_url(participant.pk, "episodes")
    was_held = bool(episode and episode.hold)
    if request.method == "POST" and form.is_valid():
        assessed = form.perform()
        if assessed is not None:
            text = assessed_message(form.short, participant.label, assessed, was_held)
            level = messages.SUCCESS if assessed.event is not None else messages.INFO
            messages.add_message(request, level, text)
            return redirect(target)
    context = {"form": form, "p": participant, "episode": episode, "title": form.title}
    return render(request, "dashboard/episode_form.html", context)


def _findings_new(request, pk, form_class):
    """404 at another site, 403 for a read-only role."""
    participant = dashboard_selectors.participant_to_record(request.user, pk)
    form = form_class(request.POST or None, participant=participant, user=request.user)
    return _findings_page(request, form, participant)


@login_required
@require_http_methods(["GET", "POST"])
def crs_new(request, pk):
    return _findings_new(request, pk, CrsForm)


@login_required
@require_http_methods(["GET", "POST"])
def icans_new(request, pk):
    return _findings_new(request, pk, IcansForm)


@login_required
@require_http_methods(["GET", "POST"])
def episode_reassess(request, pk):
    """Re-assess an open CRS or ICANS episode from new findings: 404 at another site or for
    another kind of event, 403 for a read-only role."""
    event = access.get_recordable_or_403(
        request.user, AdverseEvent.objects.select_related("participant__site"), pk=pk
    )
    if event.kind not in EPISODE_KINDS:
        raise Http404("Not a CRS or ICANS episode.")
    participant = event.participant
    if event.resolved_on is not None:
        messages.error(
            request,
            f"{event.reference} resolved on {event.resolved_on:%Y-%m-%d}: record new findings "
            f"as a new {SHORT[event.kind]} episode.",
        )
        return redirect(participant_url(participant.pk, "episodes"))
    [episode] = episodes_of(participant, [event], can_record=True)
    form = FINDINGS_FORMS[event.kind](
        request.POST or None, participant=participant, user=request.user, event=event
    )
    return _findings_page(request, form, participant, episode)


# --- Death ----------------------------------------------------------------------------------------


def _open_events(participant):
    """The events a death can be linked to: the participant's open ones (a resolved event did
    not lead to the death; the service refuses it)."""
    return (
        AdverseEvent.objects.filter(participant=participant, resolved_on__isnull=True)
        .select_related("participant__site")
        .order_by("number")
    )


@login_required
@require_http_methods(["GET", "POST"])
def participant_death(request, pk):
    """Record a death linked to one of the participant's open adverse events (its SAE): 404 at
    another site, 403 for a read-only role; a participant with no open event is asked to record
    the SAE first."""
    participant = dashboard_selectors.participant_to_record(request.user, pk)
    label = participant.label
    if not is_allowed("die", participant.status):
        status = participant.get_status_display().lower()
        messages.error(request, f"Record death is not possible while {label} is {status}.")
        return redirect(participant_url(pk))
    events = _open_events(participant)
    form = DeathForm(
        request.POST or None, participant=participant, events=events, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        event = form.perform()
        if event is not None:
            on = form.cleaned_data["on"]
            messages.success(
                request,
                f"{label}: death on {on:%Y-%m-%d} recorded, linked to {label}-AE{event.number}, "
                "now grade 5, fatal and serious.",
            )
            return redirect(participant_url(pk, "adverse-events"))
    context = {"form": form, "p": participant, "title": form.title, "no_event": not events}
    return render(request, "dashboard/death_form.html", context)
