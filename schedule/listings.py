"""Reads of the schedule that the dashboard's big lists share, each shaped to be served by an
index and to cost the same whatever the size of the study.

- The participant list's per-participant figures (next visit, open and overdue safety items) as
  two subqueries returning one JSON object each, instead of one subquery per figure; the sort
  keys are aliases, computed only when the list is sorted by them.
- "Has overdue safety items" picks participant ids from the overdue safety items (a few rows,
  partial index assess_pending_safety_due_idx), not a count per participant.
- The worklist's overdue safety items grouped by visit: the visits with overdue items picked
  from the overdue items grouped by visit (not from every visit of the user's sites), the items
  of the first visits only (one row per visit), and the totals with them.

Who is overdue, open, or next is still decided by the predicates of schedule/querysets.py.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Count,
    DateField,
    IntegerField,
    JSONField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, JSONObject
from django.db.models.query import ModelIterable

from schedule.models import Assessment, Visit, VisitDefinition


def widest_window() -> tuple[int, int]:
    """(before, after): the most days any visit's window opens before its target and closes
    after it, over every protocol version. A visit's window is laid out only by
    schedule.windows.window_for from its definition's window_before/window_after (layout,
    re-anchoring), so it holds its target and no visit's window is wider: a visit whose window
    overlaps a range has its target at most `after` days before the range or `before` days after
    it, and is found by its target's index."""
    widest = VisitDefinition.objects.aggregate(
        before=Max("window_before"), after=Max("window_after")
    )
    return widest["before"] or 0, widest["after"] or 0


# --- The participant list ---------------------------------------------------------------------

_NEXT_FIELDS = ("pk", "code", "occurrence", "target", "start", "end")


def _next_visits() -> QuerySet[Visit]:
    """The open visits of the outer participant, the next one first."""
    return (
        Visit.objects.open()
        .filter(participant=OuterRef("pk"))
        .order_by("target_date", "definition__order", "occurrence")
    )


def next_visit_summary() -> Subquery:
    """Annotation: the participant's next open visit as one JSON object (id, code, occurrence,
    target, window start and end), read with one index look-up per row shown."""
    summary = _next_visits().values(
        summary=JSONObject(
            pk="pk",
            code="definition__code",
            occurrence="occurrence",
            target="target_date",
            start="window_start",
            end="window_end",
        )
    )
    return Subquery(summary[:1], output_field=JSONField())


def next_visit_sort_key(field: str) -> Subquery:
    """Alias to sort by one of the next visit's dates (target_date, window_start, window_end)."""
    return Subquery(_next_visits().values(field)[:1], output_field=DateField())


def _pending_safety() -> QuerySet[Assessment]:
    return Assessment.objects.pending().filter(visit__participant=OuterRef("pk"), is_safety=True)


def _opened(site_today: str) -> Q:
    # "Open": the visit's window has opened (in the site's time zone).
    return Q(visit__window_start__lte=OuterRef(site_today))


def _overdue(now: dt.datetime) -> Q:
    # AssessmentQuerySet.overdue on rows already pending safety items.
    return Q(due_at__lte=now)


def safety_summary(now: dt.datetime, site_today: str = "site_today") -> Subquery:
    """Annotation: {"open": n, "overdue": n} of the participant's pending safety items, one
    subquery. `site_today`: the name of the annotation holding the site's date."""
    counted = (
        _pending_safety()
        .order_by()
        .values("visit__participant")
        .annotate(
            summary=JSONObject(
                open=Count("pk", filter=_opened(site_today)),
                overdue=Count("pk", filter=_overdue(now)),
            )
        )
        .values("summary")
    )
    return Subquery(counted, output_field=JSONField())


def safety_count_sort_key(now: dt.datetime, which: str, site_today: str = "site_today"):
    """Alias to sort by the open or overdue safety items' count."""
    wanted = _opened(site_today) if which == "open" else _overdue(now)
    counted = (
        _pending_safety()
        .filter(wanted)
        .order_by()
        .values("visit__participant")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_overdue_safety(participants: QuerySet, now: dt.datetime) -> QuerySet:
    """The participants with at least one overdue safety item: ids from the overdue items."""
    overdue = Assessment.objects.overdue(now).values("visit__participant_id")
    return participants.filter(pk__in=overdue)


def date_of(text) -> dt.date | None:
    """A date read from JSON or a computed column (SQLite gives its text), or None."""
    if text is None or isinstance(text, dt.date):
        return text
    return dt.date.fromisoformat(str(text)[:10])


def unpack_row(participant) -> None:
    """Spread the JSON summaries over the attributes the tables read: next_visit_id,
    next_visit_code, next_visit_occurrence, next_target, next_window_start, next_window_end,
    open_safety, overdue_safety."""
    nxt = getattr(participant, "next_visit", None) or {}
    participant.next_visit_id = nxt.get("pk")
    participant.next_visit_code = nxt.get("code")
    participant.next_visit_occurrence = nxt.get("occurrence")
    participant.next_target = date_of(nxt.get("target"))
    participant.next_window_start = date_of(nxt.get("start"))
    participant.next_window_end = date_of(nxt.get("end"))
    counts = getattr(participant, "safety", None) or {}
    participant.open_safety = counts.get("open") or 0
    participant.overdue_safety = counts.get("overdue") or 0


class ParticipantRowIterable(ModelIterable):
    """Participants as usual, with unpack_row applied to each (pages, .get() and .iterator())."""

    def __iter__(self):
        for participant in super().__iter__():
            unpack_row(participant)
            yield participant


# --- The worklist's overdue safety items, one row per visit -----------------------------------


@dataclass
class OverdueVisit:
    """A visit with overdue safety items: the items (in protocol order) and the earliest due."""

    visit: Visit
    items: list
    first_due: dt.datetime


def overdue_by_visit(
    site_ids: list[int] | None, limit: int, now: dt.datetime
) -> tuple[list[OverdueVisit], dict]:
    """The first `limit` visits of the sites `site_ids` (the user's, from participants.access;
    None: every site) with items overdue at `now`, the longest overdue first, each with its
    overdue items; and the totals, {"items": n, "visits": n}. Two queries, each reading the
    overdue items of the sites asked for only:

    - the visits: the overdue items of the user's sites (by the site each assessment carries:
      assess_site_pending_safety_idx; every site: assess_pending_safety_due_idx) grouped by
      visit, the grouped subquery not merged into the outer query; window sums give the totals
      before the LIMIT;
    - the items of the visits shown.
    """
    if site_ids is not None and not site_ids:
        return [], {"items": 0, "visits": 0}
    overdue = Assessment.objects.overdue(now)
    if site_ids is not None:
        overdue = overdue.filter(site_id__in=site_ids)
    grouped, params = (
        overdue.order_by()
        .values("visit_id")
        # COUNT(*), not of a column: the items are then counted from the index alone.
        .annotate(first_due=Min("due_at"), n=Count("*"))
        .query.sql_with_params()
    )
    sql = (
        f"SELECT g.visit_id, COUNT(*) OVER (), SUM(g.n) OVER () FROM ({grouped}) g"
        " ORDER BY g.first_due, g.visit_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        first = cursor.fetchall()
    totals = {"items": int(first[0][2]) if first else 0, "visits": first[0][1] if first else 0}
    ids = [pk for pk, _, _ in first]
    # The visits once each, and their items with only what a row shows (code, name, due time):
    # joining each item to its visit, participant and site made six model instances per item.
    visits = Visit.objects.select_related("participant__site", "definition").in_bulk(ids)
    rows = (
        overdue.filter(visit_id__in=ids)
        .select_related("definition")
        .only("visit_id", "due_at", "definition__code", "definition__name")
        .order_by("definition__order", "pk")
    )
    by_visit: dict[int, OverdueVisit] = {}
    for a in rows:
        a.visit = visits[a.visit_id]
        row = by_visit.setdefault(
            a.visit_id, OverdueVisit(visit=a.visit, items=[], first_due=a.due_at)
        )
        row.items.append(a)
        row.first_due = min(row.first_due, a.due_at)
    shown = sorted(by_visit.values(), key=lambda row: (row.first_due, row.visit.pk))
    return shown, totals
