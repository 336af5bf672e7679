"""Status changes that move the schedule: consent, screen failure, enrollment, manufacturing
failure, withdrawal, loss to follow-up and reinstatement, death. Each calls the participant's status
layer (participants.services) and then lays out or closes visits, in one transaction.
"""

import datetime as dt

from django.db import transaction

from participants import access
from participants.eligibility import CURRENT_CRITERIA_VERSION
from participants.models import Participant, Site, Status
from participants.services import consent, enrollment, leaving
from participants.services import eligibility as eligibility_services
from schedule.models import (
    Anchor,
    Assessment,
    AssessmentStatus,
    ParticipantSchedule,
    Period,
    VisitKind,
    VisitStatus,
)
from schedule.services.layout import (
    close_open_visits,
    definition_of_kind,
    definitions,
    lay_out,
    set_assessment_status,
)
from schedule.services.protocol import protocol_current


@transaction.atomic
def participant_consent(
    *,
    site: Site,
    consent_at: dt.datetime,
    consent_form_version: str,
    age_at_consent: int,
    by,
    screening_number: str = "",
    rescreen_of: Participant | None = None,
) -> Participant:
    """A person consents: the screening starts and the screening-period visits are laid out."""
    access.require_recorder(by, site)
    participant = consent.participant_register(
        site=site,
        consent_at=consent_at,
        consent_form_version=consent_form_version,
        age_at_consent=age_at_consent,
        by=by,
        screening_number=screening_number,
        rescreen_of=rescreen_of,
    )
    protocol = protocol_current()
    ParticipantSchedule.objects.create(
        participant=participant, protocol=protocol, consent_anchor=participant.consent_date
    )
    lay_out(participant, definitions(protocol, Anchor.CONSENT), participant.consent_date)
    return participant


def participant_rescreen(
    old: Participant,
    *,
    consent_at: dt.datetime,
    consent_form_version: str,
    age_at_consent: int,
    by,
    screening_number: str = "",
) -> Participant:
    """A failed screening is tried again: a new screening linked to the old one."""
    return participant_consent(
        site=old.site,
        consent_at=consent_at,
        consent_form_version=consent_form_version,
        age_at_consent=age_at_consent,
        by=by,
        screening_number=screening_number,
        rescreen_of=old,
    )


@transaction.atomic
def participant_screen_fail(
    participant: Participant,
    *,
    on: dt.date,
    failed_criteria: list[str],
    rescreen_allowed: bool,
    by,
    reason: str = "",
) -> Participant:
    access.require_recorder(by, participant.site)
    participant = enrollment.status_screen_fail(
        participant,
        on=on,
        failed_criteria=failed_criteria,
        rescreen_allowed=rescreen_allowed,
        by=by,
        reason=reason,
    )
    close_open_visits(participant, "Screen failure.", on=on)
    return participant


@transaction.atomic
def participant_enroll(
    participant: Participant,
    *,
    answers: dict[str, bool],
    assessed_on: dt.date,
    signed_off_by,
    by,
    password: str,
    criteria_version: str = CURRENT_CRITERIA_VERSION,
    now: dt.datetime | None = None,
) -> Participant:
    """The investigator signs the eligibility checklist with their password (in person):
    → ENROLLED. No visit moves."""
    access.require_recorder(by, participant.site)
    return enrollment.status_enroll(
        participant,
        answers=answers,
        assessed_on=assessed_on,
        signed_off_by=signed_off_by,
        by=by,
        password=password,
        criteria_version=criteria_version,
        now=now,
    )


@transaction.atomic
def eligibility_draft(
    participant: Participant,
    *,
    answers: dict[str, bool | None],
    assessed_on: dt.date,
    by,
    now: dt.datetime | None = None,
):
    """A coordinator (or the investigator) keeps the checklist as a draft for the investigator's
    signature; nothing is signed and the status does not change."""
    access.require_recorder(by, participant.site)
    return eligibility_services.eligibility_draft_save(
        participant, answers=answers, assessed_on=assessed_on, by=by, now=now
    )


@transaction.atomic
def participant_manufacturing_fail(
    participant: Participant, *, on: dt.date, reason: str, by
) -> Participant:
    """Manufacturing failed: a repeat leukapheresis visit is laid out (unless one is open)."""
    access.require_recorder(by, participant.site)
    participant = enrollment.status_manufacturing_fail(participant, on=on, reason=reason, by=by)
    # No product, no infusion: the D0 plan is void (and must not raise overdue alerts). The
    # next plan lays the D0 visits out again.
    close_open_visits(
        participant,
        "Manufacturing failed; the first infusion is to be planned again.",
        definition__anchor=Anchor.FIRST_INFUSION,
    )
    schedule = participant.schedule
    schedule.infusion_anchor = None
    schedule.save()
    protocol = schedule.protocol
    definition = definition_of_kind(protocol, VisitKind.APHERESIS)
    if not participant.visits.open().filter(definition=definition).exists():
        occurrence = participant.visits.filter(definition=definition).count() + 1
        # The repeat collection is due as soon as possible: its window opens on the failure date.
        lay_out(
            participant,
            [definition],
            on - dt.timedelta(days=definition.target_offset - definition.window_before),
            occurrence=occurrence,
            reason="Repeat leukapheresis after manufacturing failure.",
        )
    return participant


@transaction.atomic
def participant_withdraw(
    participant: Participant,
    *,
    on: dt.date,
    reason: str,
    reason_code: str,
    safety_follow_up_continues: bool,
    by,
) -> Participant:
    """Withdrawal: future visits are cancelled and the early-termination visit is laid out."""
    access.require_recorder(by, participant.site)
    participant, withdrawn_from = leaving.status_withdraw(
        participant,
        on=on,
        reason=reason,
        reason_code=reason_code,
        safety_follow_up_continues=safety_follow_up_continues,
        by=by,
    )
    kept = _safety_follow_up_visits(participant, on) if safety_follow_up_continues else []
    close_open_visits(participant, "Participant withdrew.", on=on, exclude_ids=kept)
    set_assessment_status(
        Assessment.objects.pending().filter(visit__in=kept, is_safety=False),
        AssessmentStatus.NOT_APPLICABLE,
        "Withdrawn: safety follow-up only.",
    )
    if withdrawn_from == Status.LOST_TO_FOLLOW_UP:
        # Withdrawn while lost: what matters for the ET visit is where they were when lost.
        withdrawn_from = (
            participant.status_changes.filter(to_status=Status.LOST_TO_FOLLOW_UP)
            .order_by("-changed_at", "-id")
            .values_list("from_status", flat=True)
            .first()
        )
    if withdrawn_from != Status.SCREENING:
        # Someone who only consented has no study procedures to close out.
        definition = participant.schedule.protocol.visits.prefetch_related("assessments").get(
            anchor=Anchor.WITHDRAWAL
        )
        lay_out(
            participant,
            [definition],
            on,
            withdrawn_in_treatment=withdrawn_from == Status.IN_TREATMENT,
            reason=reason,
        )
    return participant


def _safety_follow_up_visits(participant: Participant, on: dt.date) -> list[int]:
    """Visits kept, for their safety assessments only, when a withdrawn participant agreed to
    safety follow-up: the post-treatment visits whose window has not closed."""
    return list(
        participant.visits.filter(
            status=VisitStatus.SCHEDULED,
            window_end__gte=on,
            definition__period__in=(Period.TREATMENT, Period.FOLLOW_UP),
            definition__kind__in=(VisitKind.STANDARD, VisitKind.COMPLETION),
        ).values_list("pk", flat=True)
    )


@transaction.atomic
def participant_die(
    participant: Participant, *, on: dt.date, cause: str, sae_reference: str, by
) -> Participant:
    access.require_recorder(by, participant.site)
    participant = leaving.status_die(
        participant, on=on, cause=cause, sae_reference=sae_reference, by=by
    )
    close_open_visits(participant, "Participant died.", on=on)
    return participant


def participant_lose_to_follow_up(
    participant: Participant,
    *,
    last_contact_on: dt.date,
    contact_attempts: list[dt.date],
    by,
    reason: str = "",
) -> Participant:
    # Visits stay scheduled: a reinstated participant keeps their schedule.
    access.require_recorder(by, participant.site)
    return leaving.status_lose_to_follow_up(
        participant,
        last_contact_on=last_contact_on,
        contact_attempts=contact_attempts,
        by=by,
        reason=reason,
    )


def participant_reinstate(
    participant: Participant, *, on: dt.date, by, reason: str = ""
) -> Participant:
    access.require_recorder(by, participant.site)
    return leaving.status_reinstate(participant, on=on, by=by, reason=reason)
