"""The eligibility checklist: a draft anyone recording at the site may prepare and keep, and the
investigator's signature on it (participants.signatures, meaning "eligibility confirmed"), which
status_enroll takes at the moment of enrollment.

A coordinator's checklist is kept as a draft waiting for the investigator; a signed checklist is
not changed without a new signature (refuse_unsigned_change), and saving a draft that changes
nothing writes no history row.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import eligibility
from participants.audit import changed_fields
from participants.models import Eligibility, Participant
from participants.services.dates import check_clinical_date
from participants.services.status import check_allowed, locked
from participants.signatures import Signature, refuse_unsigned_change


def checked_answers(answers: dict, criteria_version: str) -> dict[str, bool]:
    """The answered criteria as code -> bool; unknown versions and codes refused."""
    if criteria_version not in eligibility.CRITERIA_VERSIONS:
        raise ValidationError({"criteria_version": f"Unknown criteria version {criteria_version}."})
    known = {c.code for c in eligibility.criteria(criteria_version)}
    unknown = sorted(code for code in answers if code not in known)
    if unknown:
        raise ValidationError(f"Unknown criteria: {', '.join(unknown)}.")
    return {code: bool(answer) for code, answer in answers.items() if answer is not None}


def checklist_of(participant: Participant) -> Eligibility | None:
    """The participant's checklist, locked (the caller holds the participant's lock too)."""
    return Eligibility.objects.select_for_update().filter(participant=participant).first()


@transaction.atomic
def eligibility_draft_save(
    participant: Participant,
    *,
    answers: dict[str, bool | None],
    assessed_on: dt.date,
    by,
    criteria_version: str = eligibility.CURRENT_CRITERIA_VERSION,
    now: dt.datetime | None = None,
) -> Eligibility:
    """Keep the checklist as prepared so far (criteria may be left unanswered) for the
    investigator to complete and sign. Nothing is signed here."""
    participant = locked(participant)
    checklist = checklist_of(participant)
    values = {
        "criteria_version": criteria_version,
        "answers": checked_answers(answers, criteria_version),
        "assessed_on": assessed_on,
    }
    if checklist is not None:
        changed = changed_fields(checklist, values)
        refuse_unsigned_change(checklist, changed, signature=None)
        if not changed:
            return checklist  # nothing new: no history row
    check_allowed(participant, "enroll")
    check_clinical_date(participant, assessed_on, "assessed_on")
    checklist = checklist or Eligibility(participant=participant)
    for name, value in values.items():
        setattr(checklist, name, value)
    checklist.prepared_by = by
    checklist.prepared_at = now or timezone.now()
    checklist._change_reason = "Eligibility checklist draft saved, waiting for the signature."
    checklist.save()
    return checklist


def eligibility_sign(
    participant: Participant, *, values: dict, signature: Signature
) -> Eligibility:
    """Store the signed checklist (`values`: criteria_version, answers, assessed_on), over the
    draft if there is one; its preparer stays who prepared it. Called by status_enroll, which has
    checked the signer and the answers, under the participant's lock."""
    checklist = checklist_of(participant) or Eligibility(participant=participant)
    if checklist.prepared_by_id is None:
        checklist.prepared_by = signature.signed_by
        checklist.prepared_at = signature.signed_at
    for name, value in {**values, **signature.values()}.items():
        setattr(checklist, name, value)
    checklist._change_reason = f"Signed: {checklist.get_signed_meaning_display()}."
    checklist.save()
    return checklist
