"""A visit's state as every page that colours a visit shows it (the subject matrix first): the one
place it is decided (due today, closing soon, overdue safety item, done out of window...).

The state is built from the predicates of schedule/querysets.py (due_on, closing_within,
window_closed, window_open, AssessmentQuerySet.overdue), each used as a subquery, so a cell can
never disagree with the worklist, the reminders or the overdue scan.
"""

import datetime as dt

from django.db import models
from django.db.models import Case, Q, QuerySet, Value, When

from schedule.models import CLOSING_SOON_DAYS, Assessment, Visit, VisitStatus


class VisitState(models.TextChoices):
    """What a visit's cell says, most urgent first where two could apply."""

    OVERDUE_SAFETY = "overdue_safety", "Overdue safety item"
    WINDOW_CLOSED = "window_closed", "Window closed, not recorded"
    DUE_TODAY = "due_today", "Due today"
    CLOSING_SOON = "closing_soon", f"Window closing within {CLOSING_SOON_DAYS} days"
    WINDOW_OPEN = "window_open", "Window open"
    NOT_YET_DUE = "not_yet_due", "Not yet due"
    DONE_IN_WINDOW = "done_in_window", "Done in window"
    DONE_OUT_OF_WINDOW = "done_out_of_window", "Done out of window"
    MISSED = "missed", "Missed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


def with_state(visits: QuerySet[Visit], today, now: dt.datetime) -> QuerySet[Visit]:
    """`visits` annotated with `state` (a VisitState value), in the same one query.

    `today`: one date, or {site id: that site's today} (each site's own calendar date), as the
    predicates take it. An overdue safety item wins over everything (a visit done on time can
    still owe a post-dose result); then what was recorded; then the open visit's window, as the
    worklist orders it ("due today" before "closing soon").
    """
    same = visits.order_by()

    def among(predicate: QuerySet) -> Q:
        return Q(pk__in=predicate.values("pk"))

    overdue_items = Assessment.objects.overdue(now).filter(visit__in=same.values("pk"))
    return visits.annotate(
        state=Case(
            When(Q(pk__in=overdue_items.values("visit_id")), then=Value(VisitState.OVERDUE_SAFETY)),
            When(status=VisitStatus.NOT_APPLICABLE, then=Value(VisitState.NOT_APPLICABLE)),
            When(status=VisitStatus.MISSED, then=Value(VisitState.MISSED)),
            When(
                status=VisitStatus.DONE, in_window=False, then=Value(VisitState.DONE_OUT_OF_WINDOW)
            ),
            When(status=VisitStatus.DONE, then=Value(VisitState.DONE_IN_WINDOW)),
            When(among(same.window_closed(today)), then=Value(VisitState.WINDOW_CLOSED)),
            When(among(same.due_on(today)), then=Value(VisitState.DUE_TODAY)),
            When(
                among(same.closing_within(today, CLOSING_SOON_DAYS)),
                then=Value(VisitState.CLOSING_SOON),
            ),
            When(among(same.window_open(today)), then=Value(VisitState.WINDOW_OPEN)),
            default=Value(VisitState.NOT_YET_DUE),
            output_field=models.CharField(),
        )
    )
