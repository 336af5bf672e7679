"""A deviation's follow-up by the site: describe it, open it, close it, or withdraw it.

    draft (by the tracker) -> open (described) -> closed (with its corrective action)
    draft or open -> withdrawn (with the reason)

Editing an open deviation asks for a reason for change, kept in its history row (at most
REASON_MAX characters, the history's column, so it is kept whole); describing the tracker's draft
is completing it, not changing it, and needs none. A save that changes nothing writes no history
row. A closed or withdrawn deviation is not changed.

Closing an important deviation is a signature in the sense of 21 CFR 11 (issue 9, item 5): an
investigator of the site re-enters their password (participants.signatures, meaning "deviation
reviewed"); the printed name, the time and the meaning are kept on the deviation. A closed
deviation is not changed at all.

Every function records at the deviation's site only (participants.access), in one transaction;
refusals are ValidationErrors keyed by the form field at fault.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.audit import AUDIT_REASON_MAX, audit_reason
from participants.models import StaffRole
from participants.signatures import PASSWORD_FIELD, SignatureMeaning, signature_take
from schedule.models import Deviation, DeviationImportance, DeviationStatus

REASON_MAX = AUDIT_REASON_MAX
TEXT_MAX = 2000
IMPORTANCE_REASON_MAX = 200
# What the edit form changes; status and the cause only change through the functions below.
EDITABLE = (
    "description",
    "importance",
    "importance_reason",
    "corrective_action",
    "preventive_action",
    "reported_to_irb_at",
)


def _locked(deviation: Deviation, by) -> Deviation:
    access.require_recorder(by, access.site_of(deviation))
    return (
        Deviation.objects.select_for_update()
        .select_related("participant__site")
        .get(pk=deviation.pk)
    )


def _refuse_unless(deviation: Deviation, *statuses: str, doing: str) -> None:
    if deviation.status not in statuses:
        raise ValidationError(
            f"This deviation is {deviation.get_status_display().lower()}: it cannot be {doing}."
        )


def _save(deviation: Deviation, by, reason: str) -> Deviation:
    deviation._change_reason = audit_reason(reason)
    deviation._history_user = by
    deviation.save()
    return deviation


def _clean_text(value, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValidationError({field: f"Keep it to {limit} characters (this is {len(text)})."})
    return text


def _clean_changes(deviation: Deviation, changes: dict, now: dt.datetime) -> dict:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    clean = {}
    for field, value in changes.items():
        if field == "reported_to_irb_at":
            clean[field] = _clean_irb_report(deviation, value, now)
        elif field == "importance":
            if value not in DeviationImportance.values:
                raise ValidationError({field: "Say whether the deviation is important."})
            clean[field] = value
        else:
            limit = IMPORTANCE_REASON_MAX if field == "importance_reason" else TEXT_MAX
            clean[field] = _clean_text(value, field, limit)
    if "importance_reason" in clean and not clean["importance_reason"]:
        raise ValidationError({"importance_reason": "Say why the deviation is important or not."})
    return clean


def _clean_irb_report(deviation: Deviation, value, now: dt.datetime):
    if value is None:
        return None
    tz = deviation.participant.site.tz
    if value > now:
        raise ValidationError({"reported_to_irb_at": "The report to the IRB is in the future."})
    if value.astimezone(tz).date() < deviation.occurred_on:
        raise ValidationError(
            {
                "reported_to_irb_at": "The report to the IRB is before the deviation occurred "
                f"({deviation.occurred_on:%Y-%m-%d})."
            }
        )
    return value


@transaction.atomic
def deviation_edit(
    deviation: Deviation, *, by, reason: str = "", now: dt.datetime | None = None, **changes
) -> list[str]:
    """Change a draft's or an open deviation's description, importance (and why), corrective
    and preventive action, or report to the IRB. Returns the names of the fields that changed:
    none, and nothing is written (no history row)."""
    deviation = _locked(deviation, by)
    _refuse_unless(deviation, DeviationStatus.DRAFT, DeviationStatus.OPEN, doing="changed")
    clean = _clean_changes(deviation, changes, now or timezone.now())
    changed = [f for f, value in clean.items() if getattr(deviation, f) != value]
    if not changed:
        return []
    reason = (reason or "").strip()
    if deviation.status == DeviationStatus.OPEN and not reason:
        raise ValidationError({"reason": "Give the reason for the change (kept in its history)."})
    if len(reason) > REASON_MAX:
        raise ValidationError(
            {"reason": f"Keep the reason to {REASON_MAX} characters (this is {len(reason)})."}
        )
    for field in changed:
        setattr(deviation, field, clean[field])
    _save(deviation, by, reason or "Draft described")
    return changed


@transaction.atomic
def deviation_open(deviation: Deviation, *, by) -> Deviation:
    """The site takes the tracker's draft on: it needs its description first."""
    deviation = _locked(deviation, by)
    _refuse_unless(deviation, DeviationStatus.DRAFT, doing="opened")
    if not deviation.description.strip():
        raise ValidationError(
            {"description": "Describe the deviation (what happened and why) before opening it."}
        )
    deviation.status = DeviationStatus.OPEN
    return _save(deviation, by, "Opened")


def _check_signer(by) -> None:
    profile = getattr(by, "staff_profile", None)
    if profile is None or profile.role != StaffRole.INVESTIGATOR:
        raise ValidationError(
            {
                PASSWORD_FIELD: "Closing an important deviation is the investigator's signature: "
                "an investigator of the site closes it, logged in as themselves."
            }
        )


@transaction.atomic
def deviation_close(
    deviation: Deviation,
    *,
    by,
    corrective_action: str | None = None,
    password: str = "",
    now: dt.datetime | None = None,
) -> Deviation:
    """Close an open deviation: it needs its corrective action (given here, or already written).
    An important one is closed by an investigator of the site signing with `password` (a wrong
    one is refused under the password and nothing is saved)."""
    deviation = _locked(deviation, by)
    _refuse_unless(deviation, DeviationStatus.OPEN, doing="closed")
    important = deviation.importance == DeviationImportance.IMPORTANT
    if important:
        _check_signer(by)
    if corrective_action is not None:
        deviation.corrective_action = _clean_text(corrective_action, "corrective_action", TEXT_MAX)
    if not deviation.corrective_action:
        raise ValidationError(
            {"corrective_action": "Write the corrective action taken before closing it."}
        )
    if important:
        signature = signature_take(by, password, SignatureMeaning.DEVIATION_REVIEWED, now=now)
        for name, value in signature.values().items():
            setattr(deviation, name, value)
    deviation.status = DeviationStatus.CLOSED
    return _save(deviation, by, "Closed, signed: deviation reviewed" if important else "Closed")


@transaction.atomic
def deviation_withdraw(deviation: Deviation, *, by, reason: str) -> Deviation:
    """Not a deviation after all (a draft or an open one), with the reason kept on it."""
    deviation = _locked(deviation, by)
    _refuse_unless(deviation, DeviationStatus.DRAFT, DeviationStatus.OPEN, doing="withdrawn")
    reason = _clean_text(reason, "reason", IMPORTANCE_REASON_MAX)
    if not reason:
        raise ValidationError({"reason": "Give the reason it is not a deviation."})
    deviation.status = DeviationStatus.WITHDRAWN
    deviation.withdrawn_reason = reason
    return _save(deviation, by, f"Withdrawn: {reason}")
