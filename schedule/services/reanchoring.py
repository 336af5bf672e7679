"""Moving the first infusion (D0): every D0 visit not yet done moves with it, and the move is
recorded. `d0_move_preview` says which visits move and to which dates; `reanchor` writes exactly
that preview, so what a coordinator confirmed is what is saved.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from participants.audit import audit_reason
from participants.models import Participant
from schedule.models import (
    Anchor,
    AssessmentStatus,
    ParticipantSchedule,
    Reanchor,
    Visit,
    VisitStatus,
)
from schedule.services.layout import assessment_due_at
from schedule.windows import Window, window_for


@dataclass(frozen=True)
class VisitMove:
    """One visit that moves with D0: its window before and after."""

    visit: Visit
    old: Window
    new: Window

    @property
    def code(self) -> str:
        return self.visit.code


def d0_move_preview(participant: Participant, new_anchor: dt.date) -> list[VisitMove]:
    """The D0-anchored visits not yet done, in protocol order, with their windows were D0 to
    become `new_anchor`. Visits done (or missed, or not applicable) keep their dates."""
    visits = (
        participant.visits.filter(
            definition__anchor=Anchor.FIRST_INFUSION, status=VisitStatus.SCHEDULED
        )
        .select_related("definition", "participant")
        .prefetch_related("assessments__definition")
        .order_by("definition__order", "occurrence")
    )
    moves = []
    for visit in visits:
        d = visit.definition
        moves.append(
            VisitMove(
                visit=visit,
                old=Window(visit.target_date, visit.window_start, visit.window_end),
                new=window_for(new_anchor, d.target_offset, d.window_before, d.window_after),
            )
        )
    return moves


def reanchor(
    participant: Participant, schedule: ParticipantSchedule, new_anchor: dt.date, *, reason, by
) -> Reanchor:
    """Move every D0-anchored visit not yet done (d0_move_preview); keep the ones done; record
    that it happened, with how many visits moved."""
    tz = participant.site.tz
    moves = d0_move_preview(participant, new_anchor)
    now = timezone.now()
    for move in moves:
        visit, w = move.visit, move.new
        visit.target_date, visit.window_start, visit.window_end = w.target, w.start, w.end
        for a in visit.assessments.all():
            if a.status != AssessmentStatus.PENDING:
                continue
            a.due_at = assessment_due_at(a.definition, visit, tz)
            if a.due_at > now:
                # Moved later: no longer overdue, so it may be flagged again when it is.
                a.overdue_flagged_at = a.escalated_at = None
            a.save(update_fields=["due_at", "overdue_flagged_at", "escalated_at"])
    bulk_update_with_history(
        [move.visit for move in moves],
        Visit,
        ["target_date", "window_start", "window_end"],
        default_change_reason=audit_reason(f"re-anchored: {reason}"),
    )
    record = Reanchor.objects.create(
        participant=participant,
        old_anchor=schedule.infusion_anchor,
        new_anchor=new_anchor,
        visits_moved=len(moves),
        reason=reason,
        changed_by=by,
        changed_at=now,
    )
    schedule.infusion_anchor = new_anchor
    schedule.save()
    return record
