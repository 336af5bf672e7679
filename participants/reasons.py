"""Why a participant left treatment or the study, as coded categories.

Reports, emails and exports tally these codes, never the free-text reason: a coordinator's note
("moved to Ohio to live with her sister Ann") can identify a person, a category cannot. The free
text stays on the record (StatusChange.reason) for the site; the code goes in
StatusChange.details["reason_code"]. Rows recorded before codes existed tally as NOT_CODED.
"""

from django.core.exceptions import ValidationError
from django.db import models


class WithdrawalReason(models.TextChoices):
    CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn by the participant"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    INVESTIGATOR_DECISION = "investigator_decision", "Investigator decision"
    PROTOCOL_NON_COMPLIANCE = "non_compliance", "Non-compliance with the protocol"
    PREGNANCY = "pregnancy", "Pregnancy"
    SPONSOR_DECISION = "sponsor_decision", "Sponsor decision (study stopped)"
    OTHER = "other", "Other"


class TreatmentStopReason(models.TextChoices):
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    CRS_ICANS = "crs_icans", "CRS or ICANS"
    INFECTION = "infection", "Infection"
    MISSED_INFUSIONS = "missed_infusions", "Infusions missed (the last planned one missed)"
    MANUFACTURING = "manufacturing", "Product not available (manufacturing)"
    PARTICIPANT_DECISION = "participant_decision", "Participant decision"
    INVESTIGATOR_DECISION = "investigator_decision", "Investigator decision"
    PREGNANCY = "pregnancy", "Pregnancy"
    OTHER = "other", "Other"


NOT_CODED = "not coded"


def check_reason_code(code: str, choices: type[models.TextChoices], what: str) -> None:
    """Refuse, under the reason_code field, a code that is not one of `choices`."""
    if code not in choices.values:
        raise ValidationError({"reason_code": f"Choose the reason for {what} from the list."})


def reason_label(code: str | None, choices: type[models.TextChoices]) -> str:
    """The category's label for a tally; NOT_CODED for a row recorded before codes."""
    if not code:
        return NOT_CODED
    try:
        return choices(code).label
    except ValueError:
        return NOT_CODED


def category_of(to_status: str, details: dict) -> str:
    """The coded category of a status change (a withdrawal, or treatment stopped early), as its
    label; "" when the change has none."""
    code = (details or {}).get("reason_code")
    if not code:
        return ""
    return reason_label(code, WithdrawalReason if to_status == "withdrawn" else TreatmentStopReason)
