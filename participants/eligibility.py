"""The eligibility checklist of SLE-001 (public trial listing), versioned as data.

An inclusion criterion must be answered "met"; an exclusion criterion must be answered "does not
apply". Answers are stored by code, so a new criteria version can add or drop criteria without a
migration.
"""

from dataclasses import dataclass

INCLUSION = "inclusion"
EXCLUSION = "exclusion"


@dataclass(frozen=True)
class Criterion:
    code: str
    kind: str  # INCLUSION or EXCLUSION
    text: str


CRITERIA_VERSIONS: dict[str, tuple[Criterion, ...]] = {
    "1": (
        Criterion("IN_SLE", INCLUSION, "Diagnosed with systemic lupus erythematosus"),
        Criterion("IN_AUTOAB", INCLUSION, "Lupus autoantibodies present in blood"),
        Criterion(
            "IN_ACTIVE",
            INCLUSION,
            "Active symptoms despite glucocorticoids plus two other immunosuppressives "
            "for 3 months",
        ),
        Criterion("IN_AGE", INCLUSION, "Aged 18 or over"),
        Criterion("EX_PREG", EXCLUSION, "Pregnant or lactating"),
        Criterion(
            "EX_NEURO",
            EXCLUSION,
            "Severe lupus nephritis, CNS lupus or major neurological lupus symptoms",
        ),
        Criterion(
            "EX_ILLNESS",
            EXCLUSION,
            "Major chronic illness not well managed that the investigator judges a risk",
        ),
    ),
}
CURRENT_CRITERIA_VERSION = "1"


def criteria(version: str = CURRENT_CRITERIA_VERSION) -> tuple[Criterion, ...]:
    return CRITERIA_VERSIONS[version]


def unanswered(answers: dict[str, bool], version: str) -> list[Criterion]:
    return [c for c in criteria(version) if c.code not in answers or answers[c.code] is None]


def failing(answers: dict[str, bool], version: str) -> list[Criterion]:
    """Inclusion criteria not met and exclusion criteria that apply."""
    failed = []
    for c in criteria(version):
        answer = answers.get(c.code)
        if answer is None:
            continue
        if (c.kind == INCLUSION and not answer) or (c.kind == EXCLUSION and answer):
            failed.append(c)
    return failed
