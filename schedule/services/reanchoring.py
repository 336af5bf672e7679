"""Moving the first infusion (D0): every D0 visit not yet done moves with it, and the move is
recorded.
"""

import datetime as dt

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
from schedule.windows import window_for


def reanchor(
    participant: Participant, schedule: ParticipantSchedule, new_anchor: dt.date, *, reason, by
) -> Reanchor:
    """Move every D0-anchored visit not yet done; keep the ones done; record that it happened."""
    tz = participant.site.tz
    moved = list(
        participant.visits.filter(
            definition__anchor=Anchor.FIRST_INFUSION, status=VisitStatus.SCHEDULED
        )
        .select_related("definition")
        .prefetch_related("assessments__definition")
    )
    now = timezone.now()
    for visit in moved:
        d = visit.definition
        w = window_for(new_anchor, d.target_offset, d.window_before, d.window_after)
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
        moved,
        Visit,
        ["target_date", "window_start", "window_end"],
        default_change_reason=audit_reason(f"re-anchored: {reason}"),
    )
    record = Reanchor.objects.create(
        participant=participant,
        old_anchor=schedule.infusion_anchor,
        new_anchor=new_anchor,
        visits_moved=len(moved),
        reason=reason,
        changed_by=by,
        changed_at=now,
    )
    schedule.infusion_anchor = new_anchor
    schedule.save()
    return record
