"""What an identifier may look like: screening numbers, product (chain-of-identity) ids, lot
numbers, and the dose text of an infusion. The one place for their patterns: the models carry
them as validators (admin and forms), the forms as field validators, and the services refuse
anything else through `check_identifier`, whoever calls them.

Each starts with a letter or a digit, so none can start a spreadsheet formula or carry markup.
"""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

SCREENING_NUMBER_MAX = 20  # Participant.screening_number
PRODUCT_ID_MAX = 60  # Apheresis.product_id
LOT_MAX = 60  # Visit.lot, Participant.first_infusion_lot
DOSE_MAX = 60  # Visit.dose, Participant.first_infusion_dose

screening_number_validator = RegexValidator(
    rf"^[A-Za-z0-9][A-Za-z0-9_/-]{{0,{SCREENING_NUMBER_MAX - 1}}}\Z",
    "Use letters, digits, - or /, e.g. SCR-014 (at most 20 characters).",
    code="invalid_screening_number",
)
product_id_validator = RegexValidator(
    rf"^[A-Za-z0-9][A-Za-z0-9_./-]{{0,{PRODUCT_ID_MAX - 1}}}\Z",
    "Use letters, digits, - . / or _, e.g. COI-S01-001-1 (at most 60 characters).",
    code="invalid_product_id",
)
lot_validator = RegexValidator(
    rf"^[A-Za-z0-9][A-Za-z0-9_./-]{{0,{LOT_MAX - 1}}}\Z",
    "Use letters, digits, - . / or _, e.g. LOT-2026-014 (at most 60 characters).",
    code="invalid_lot",
)
dose_validator = RegexValidator(
    rf"^[A-Za-z0-9][A-Za-z0-9 .,^/()%×_-]{{0,{DOSE_MAX - 1}}}\Z",
    "Use letters, digits, spaces and . , ^ / ( ) %% × -, e.g. 1x10^8 cells "
    "(at most 60 characters).",
    code="invalid_dose",
)


def check_identifier(value: str, validator: RegexValidator, field: str) -> None:
    """Refuse `value` under `field` unless it matches `validator` (an empty value is the
    caller's to refuse or allow)."""
    if value:
        try:
            validator(value)
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None


def check_infusion_product(dose: str, lot: str) -> None:
    """The dose text and the lot number of an infusion (INF1 and INF2-6 alike)."""
    check_identifier(dose.strip(), dose_validator, "dose")
    check_identifier(lot.strip(), lot_validator, "lot")
