"""Read queries of the dashboard. Each page makes a fixed number of queries whatever the number
of participants: related rows come through select_related/prefetch_related, per-participant
figures (next visit, open safety items) through subqueries, never a query per row.

Every read starts from participants.access, so it only ever sees the user's sites.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DateField,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard import capped
from participants import access
from participants.models import Participant, Phase, Site, Status
from participants.services.dates import site_today
from schedule import listings
from schedule.models import (
    CLOSING_SOON_DAYS,
    Assessment,
    Visit,
    VisitDefinition,
    VisitKind,
    VisitStatus,
)
from schedule.windows import study_day_label, study_day_offset

COMING_UP_DAYS = 7
SCREENING_DAYS = 56  # 8 weeks [PUBLIC]
# Fallback only: the number of infusions comes from the participant's protocol version
# (infusion_count, annotated on the participant), for a participant read without it.
INFUSIONS = 6
FOLLOW_UP_DAYS = 365  # the Month 12 visit is Day 365


def sites_with_today(user) -> list[tuple[Site, dt.date]]:
    """The user's sites, each with its own calendar date: "today" differs between time zones."""
    return [(s, site_today(s)) for s in access.visible_site_list(user)]


def _site_today_expression(sites: list[tuple[Site, dt.date]]) -> Case:
    return Case(
        *[When(site_id=s.pk, then=Value(today)) for s, today in sites],
        default=Value(timezone.now().date()),
        output_field=DateField(),
    )


# --- Study days and progress ---------------------------------------------------------------------


def study_day(d0: dt.date | None, day: dt.date | None) -> str:
    if d0 is None or day is None:
        return ""
    return study_day_label(study_day_offset(d0, day), settings.STUDY_DAY_LABEL)


@dataclass(frozen=True)
class Progress:
    """Where a participant is through screening (8 weeks), treatment (the protocol's infusions) and follow-up
    (12 months): a text and how full each of the three segments is (0 to 1)."""

    text: str
    screening: float
    treatment: float
    follow_up: float
    infusions: int = INFUSIONS


def infusion_count() -> Coalesce:
    """Annotation: how many infusion visits the participant's protocol version defines (first
    infusion included). A subquery in the participant's own query, so no query per row."""
    counted = (
        VisitDefinition.objects.filter(
            protocol=OuterRef("schedule__protocol"),
            kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
        )
        .order_by()
        .values("protocol")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(INFUSIONS))


def phase_progress(p: Participant, today: dt.date) -> Progress:
    infusions = getattr(p, "infusion_count", None) or INFUSIONS
    if p.phase == Phase.SCREENING:
        days = max((today - p.consent_date).days, 0)
        week = min(days // 7 + 1, 8)
        return Progress(f"screening week {week}/8", min(days / SCREENING_DAYS, 1), 0, 0, infusions)
    if p.phase == Phase.TREATMENT:
        n = p.infusions_received
        return Progress(
            f"treatment {n}/{infusions} infusions", 1, min(n / infusions, 1), 0, infusions
        )
    if p.phase == Phase.FOLLOW_UP and p.first_infusion_at:
        days = max((today - p.first_infusion_date).days, 0)
        month = min(days // 30 + 1, 12)
        text = f"follow-up month {month}/12"
        if p.status == Status.LOST_TO_FOLLOW_UP:
            text += " (lost to follow-up)"
        return Progress(text, 1, 1, min(days / FOLLOW_UP_DAYS, 1), infusions)
    if p.status == Status.COMPLETED:
        return Progress("completed", 1, 1, 1, infusions)
    return Progress(p.get_status_display().lower(), 0, 0, 0, infusions)


# --- Worklist ------------------------------------------------------------------------------------


# Each worklist section shows this many rows, with its full count and a link to the whole list.
WORKLIST_ROWS = 25


@dataclass
class Worklist:
    """The first WORKLIST_ROWS rows of each section, `counts` the whole of each. overdue_safety
    holds the items of the visits shown in overdue_safety_visits (one row per visit)."""

    due_today: list[Visit] = field(default_factory=list)
    closing_soon: list[Visit] = field(default_factory=list)
    overdue_visits: list[Visit] = field(default_factory=list)
    overdue_safety: list[Assessment] = field(default_factory=list)
    overdue_safety_visits: list = field(default_factory=list)
    coming_up: list[Visit] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    overdue_visit_count: int = 0
    today_by_site: dict[int, dt.date] = field(default_factory=dict)
    sites: list[tuple[Site, dt.date]] = field(default_factory=list)


# What a worklist row shows of a visit (dashboard.tables.VisitTable, its downloads and the
# "not open yet" note): decoding every column of five tables for each row cost more than the
# query.
VISIT_ROW_FIELDS = (
    "participant__study_id",
    "participant__screening_number",
    "participant__site__code",
    "participant__schedule__infusion_anchor",
    "definition__code",
    "definition__name",
    "definition__anchor",
    "definition__kind",
    "occurrence",
    "status",
    "target_date",
    "window_start",
    "window_end",
)


def _visits(user) -> QuerySet[Visit]:
    return (
        access.visible(user, Visit)
        .select_related("participant__site", "definition", "participant__schedule")
        .only(*VISIT_ROW_FIELDS)
    )


def overdue_safety_items(user, now: dt.datetime | None = None) -> QuerySet[Assessment]:
    """Safety assessments past due with no result (PROTOCOL.md, "Overdue rule"). Served by the
    partial index assess_pending_safety_due_idx."""
    now = now or timezone.now()
    return (
        access.visible(user, Assessment)
        .overdue(now)
        .select_related("visit__participant__site", "visit__definition", "definition")
        .order_by("due_at", "visit__participant__screening_number", "definition__order")
    )


VISIT_SECTIONS = ("due_today", "closing_soon", "overdue_visits", "coming_up")


def worklist_lists(user, now: dt.datetime, sites: list[tuple[Site, dt.date]]) -> dict:
    """The whole list behind each worklist section (key -> queryset), each served by a partial
    index: open visits by target date or window end, overdue safety items by due time.

    "Due today" takes precedence: a visit due today whose window also closes within 3 days is
    listed once, under today.
    """
    today = {s.pk: day for s, day in sites}
    order = ("target_date", "participant__screening_number", "definition__order")
    due_today = Visit.objects.due_on(today)
    return {
        "due_today": _visits(user).due_on(today).order_by(*order),
        "closing_soon": _visits(user)
        .closing_within(today, CLOSING_SOON_DAYS)
        .exclude(pk__in=due_today.values("pk"))
        .order_by("window_end", *order),
        "overdue_visits": _visits(user).window_closed(today).order_by("window_end", *order),
        "coming_up": _visits(user).coming_within(today, COMING_UP_DAYS).order_by(*order),
        "overdue_safety": overdue_safety_items(user, now),
    }


def worklist(user, now: dt.datetime | None = None) -> Worklist:
    """The coordinator's day: the first rows of five lists and their counts, a fixed number of
    queries whatever the size of the study. Overdue safety items come one row per visit."""
    now = now or timezone.now()
    sites = sites_with_today(user)
    result = Worklist(today_by_site={s.pk: today for s, today in sites}, sites=sites)
    if not sites:
        return result
    lists = worklist_lists(user, now, sites)
    shown = capped.first_rows_of_each({key: lists[key] for key in VISIT_SECTIONS}, WORKLIST_ROWS)
    for key, (rows, total) in shown.items():
        setattr(result, key, rows)
        result.counts[key] = total
    # The user's sites (None: every site, no site to check).
    scope = None if access.sees_all_sites(user) else [s.pk for s, _ in sites]
    result.overdue_safety_visits, totals = listings.overdue_by_visit(scope, WORKLIST_ROWS, now)
    result.overdue_safety = [a for row in result.overdue_safety_visits for a in row.items]
    result.counts["overdue_safety"] = totals["items"]
    result.overdue_visit_count = totals["visits"]
    return result


# --- Participants ----------------------------------------------------------------------------------


def participant_rows(
    user, now: dt.datetime | None = None, sites: list[tuple[Site, dt.date]] | None = None
) -> QuerySet[Participant]:
    """Participants with their next visit, open and overdue safety items, in one query: two JSON
    subqueries per row shown (schedule.listings), spread over next_visit_code, next_target,
    next_window_start/end, open_safety and overdue_safety; the sort keys are aliases computed
    only when the list is sorted by them. `sites`: the user's sites_with_today when the caller
    has them already."""
    now = now or timezone.now()
    sites = sites_with_today(user) if sites is None else sites
    rows = (
        access.visible(user, Participant)
        .select_related("site")
        .annotate(
            site_today=_site_today_expression(sites),
            infusion_count=infusion_count(),
            next_visit=listings.next_visit_summary(),
            safety=listings.safety_summary(now),
        )
        .alias(
            next_target=listings.next_visit_sort_key("target_date"),
            next_window_start=listings.next_visit_sort_key("window_start"),
            next_window_end=listings.next_visit_sort_key("window_end"),
            open_safety=listings.safety_count_sort_key(now, "open"),
            overdue_safety=listings.safety_count_sort_key(now, "overdue"),
        )
        .order_by("site__code", "screening_number")
    )
    rows._iterable_class = listings.ParticipantRowIterable
    return rows


@dataclass
class ParticipantPage:
    participant: Participant
    today: dt.date
    d0: dt.date | None
    visits: list[Visit]
    history: list
    progress: Progress
    moves: list = field(default_factory=list)  # Reanchor rows, latest first


MOVES_SHOWN = 20


def participant_page(user, pk: int) -> ParticipantPage:
    """One participant of the user's sites (404 otherwise), with the whole timeline."""
    participant = access.get_visible_or_404(
        user,
        Participant.objects.select_related(
            "site", "schedule__protocol", "eligibility__prepared_by"
        ).annotate(infusion_count=infusion_count()),
        pk=pk,
    )
    visits = list(
        participant.visits.select_related(
            "definition", "participant__site", "pre_dose_override__overridden_by"
        )
        .prefetch_related(
            Prefetch(
                "assessments",
                queryset=Assessment.objects.select_related("definition").order_by(
                    "definition__order", "pk"
                ),
            )
        )
        .order_by("target_date", "definition__order", "occurrence")
    )
    history = list(participant.status_changes.select_related("changed_by").order_by("-changed_at"))
    # The first-infusion moves (re-anchoring), at most MOVES_SHOWN: one query.
    moves = list(
        participant.reanchors.select_related("changed_by").order_by("-changed_at", "-pk")[
            :MOVES_SHOWN
        ]
    )
    today = site_today(participant.site)
    schedule = getattr(participant, "schedule", None)
    return ParticipantPage(
        participant=participant,
        today=today,
        d0=schedule.infusion_anchor if schedule else None,
        visits=visits,
        history=history,
        progress=phase_progress(participant, today),
        moves=moves,
    )


def visit_to_record(user, pk: int) -> Visit:
    """A visit the user may record: 404 at another site, 403 for a read-only role."""
    return access.get_recordable_or_403(
        user,
        Visit.objects.select_related("participant__site", "participant__schedule", "definition"),
        pk=pk,
    )


def assessment_to_record(user, pk: int) -> Assessment:
    """An assessment the user may record: 404 at another site, 403 for a read-only role."""
    return access.get_recordable_or_403(
        user,
        Assessment.objects.select_related(
            "visit__participant__site", "visit__definition", "definition"
        ),
        pk=pk,
    )


def participant_to_record(user, pk: int) -> Participant:
    """A participant the user may record on: 404 at another site, 403 for a read-only role."""
    return access.get_recordable_or_403(user, Participant.objects.select_related("site"), pk=pk)


# --- Calendar and feed -----------------------------------------------------------------------------


def feed_visits(user) -> QuerySet[Visit]:
    return (
        access.visible(user, Visit)
        .exclude(status=VisitStatus.NOT_APPLICABLE)
        .select_related("participant__site", "definition")
        .order_by("target_date", "pk")
    )
