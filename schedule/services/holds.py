"""Infusion holds: something that holds the participant's next infusion until it is released (a CRS
or ICANS episode above grade 1, opened and released by safety.services.crs_icans, or any other
safety reason). The pre-dose gate (infusions.py) lists every open hold as a reason to refuse.

A hold is named by its `source` (e.g. the event reference "S01-003-AE2"); a source has at most one
open hold (a unique constraint), so opening it again updates its reason and releasing a source
that is not open does nothing: callers may open and release on every re-assessment.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.models import Participant
from schedule.models import InfusionHold

_SOURCE_MAX = InfusionHold._meta.get_field("source").max_length
_REASON_MAX = InfusionHold._meta.get_field("reason").max_length


def _checked(field: str, text: str, limit: int, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: f"Give {what}."})
    if len(text) > limit:
        raise ValidationError({field: f"Keep {what} to {limit} characters (got {len(text)})."})
    return text


def _lock(participant: Participant) -> Participant:
    # Two open calls for one source at once would both find no open hold and the second would
    # hit the unique constraint; the participant row lock makes the second wait and update.
    # of=("self",): PostgreSQL would otherwise lock the joined site row too (every participant
    # of the site would queue).
    return (
        Participant.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=participant.pk)
    )


@transaction.atomic
def hold_open(participant: Participant, *, source: str, reason: str, by) -> InfusionHold:
    """Hold the participant's next infusion for `source`, or update the reason of its open hold."""
    access.require_recorder(by, participant.site)
    source = _checked("source", source, _SOURCE_MAX, "what holds the infusion")
    reason = _checked("reason", reason, _REASON_MAX, "the reason the infusion is held")
    participant = _lock(participant)
    hold = participant.infusion_holds.filter(source=source, released_at__isnull=True).first()
    if hold is None:
        return InfusionHold.objects.create(
            participant=participant, source=source, reason=reason, opened_at=timezone.now()
        )
    if hold.reason != reason:
        hold.reason = reason
        hold.save(update_fields=["reason"])
    return hold


@transaction.atomic
def hold_release(participant: Participant, *, source: str, reason: str, by) -> InfusionHold | None:
    """Release the open hold of `source`; None (and nothing changes) when none is open."""
    access.require_recorder(by, participant.site)
    reason = _checked("reason", reason, _REASON_MAX, "the reason the hold is released")
    participant = _lock(participant)
    hold = participant.infusion_holds.filter(source=source, released_at__isnull=True).first()
    if hold is None:
        return None
    hold.released_at = timezone.now()
    hold.release_reason = reason
    hold.save(update_fields=["released_at", "release_reason"])
    return hold


def open_holds(participant: Participant):
    """The participant's holds not yet released, oldest first (what the pre-dose gate lists)."""
    return participant.infusion_holds.filter(released_at__isnull=True).order_by("opened_at", "pk")
