"""What is wrong, or worth a warning, with a first-infusion date (D0): the one function both
planning D0 (infusions.first_infusion_plan, the plan form) and `schedule_preview` call, so the
same dates get the same words wherever they are checked. Pure: no database, no clock.
"""

import datetime as dt
from dataclasses import dataclass, field

from participants.services.dates import consent_to_first_infusion_problem

# First infusion planned 14-21 days after leukapheresis [PUBLIC]; later than this is unusual.
APHERESIS_TO_INFUSION_WARN_DAYS = 28
APHERESIS_TO_INFUSION_MIN_DAYS = 14


@dataclass(frozen=True)
class FirstInfusionDateCheck:
    errors: list[str] = field(default_factory=list)  # refused
    warnings: list[str] = field(default_factory=list)  # saved, and said


def first_infusion_date_check(
    consent_on: dt.date,
    first_infusion_on: dt.date,
    *,
    leukapheresis_on: dt.date | None = None,
    leukapheresis_done: bool = False,
    today: dt.date | None = None,
) -> FirstInfusionDateCheck:
    """The refusals and warnings for D0 = `first_infusion_on`.

    * consent more than 59 days before, or not before D0: refused (PROTOCOL.md);
    * on or before the leukapheresis: refused once the collection is recorded (there is no
      product before it), warned while it is only planned (the plan may still move);
    * outside 14-28 days after the leukapheresis: warned;
    * before `today` (the site's): warned — planning a past D0 is how an infusion given on an
      earlier day is entered late, so it is allowed, but never silently.
    """
    errors, warnings = [], []
    problem = consent_to_first_infusion_problem(consent_on, first_infusion_on)
    if problem:
        errors.append(problem)
    if leukapheresis_on is not None:
        what = "the leukapheresis" if leukapheresis_done else "the planned leukapheresis"
        if first_infusion_on <= leukapheresis_on:
            text = (
                f"The first infusion ({first_infusion_on:%Y-%m-%d}) must come after {what} "
                f"({leukapheresis_on:%Y-%m-%d}): the product is made from it."
            )
            (errors if leukapheresis_done else warnings).append(text)
        elif gap := apheresis_gap_warning(leukapheresis_on, first_infusion_on, what):
            warnings.append(gap)
    if today is not None and first_infusion_on < today:
        warnings.append(
            f"The first infusion date ({first_infusion_on:%Y-%m-%d}) is in the past (today at "
            f"the site: {today:%Y-%m-%d}). Plan a past date only to enter an infusion already "
            "given; otherwise plan the day it will be given."
        )
    return FirstInfusionDateCheck(errors=errors, warnings=warnings)


def apheresis_gap_warning(collected_on: dt.date, d0: dt.date, what: str) -> str:
    """A warning when D0 is not 14-28 days after the leukapheresis, or "" (pure)."""
    gap = (d0 - collected_on).days
    if APHERESIS_TO_INFUSION_MIN_DAYS <= gap <= APHERESIS_TO_INFUSION_WARN_DAYS:
        return ""
    return (
        f"The first infusion is {gap} days after {what} ({collected_on:%Y-%m-%d}); the protocol "
        f"plans {APHERESIS_TO_INFUSION_MIN_DAYS}-21 days for manufacturing."
    )
