"""The one table of allowed status changes (PROTOCOL.md, "Participant states").

Each transition names the statuses it may start from, the status it leads to, and what it
records. participants.services and schedule.services look transitions up here; nothing else
decides whether a change is allowed.
"""

from dataclasses import dataclass

from participants.models import Status

# States a person can still leave by withdrawal, loss to follow-up or death: every state after
# consent that is not already final.
ACTIVE_AFTER_CONSENT = frozenset(
    {
        Status.SCREENING,
        Status.ENROLLED,
        Status.APHERESIS_DONE,
        Status.MANUFACTURING_FAILED,
        Status.IN_TREATMENT,
        Status.IN_FOLLOW_UP,
    }
)
FINAL = frozenset({Status.SCREEN_FAILED, Status.COMPLETED, Status.WITHDRAWN, Status.DIED})


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset
    target: str
    records: str  # what the change records, shown to coordinators


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "screen_fail",
            frozenset({Status.SCREENING}),
            Status.SCREEN_FAILED,
            "date, failed criteria, whether a re-screen is allowed",
        ),
        Transition(
            "enroll",
            frozenset({Status.SCREENING}),
            Status.ENROLLED,
            "investigator's eligibility sign-off, date, criteria version",
        ),
        Transition(
            "apheresis",
            frozenset({Status.ENROLLED, Status.MANUFACTURING_FAILED}),
            Status.APHERESIS_DONE,
            "date, adequate collection, product (chain-of-identity) id",
        ),
        Transition(
            "manufacturing_fail",
            frozenset({Status.APHERESIS_DONE}),
            Status.MANUFACTURING_FAILED,
            "date, reason",
        ),
        Transition(
            "start_treatment",
            frozenset({Status.APHERESIS_DONE}),
            Status.IN_TREATMENT,
            "first infusion date/time (sets D0), dose, lot",
        ),
        Transition(
            "end_treatment",
            frozenset({Status.IN_TREATMENT}),
            Status.IN_FOLLOW_UP,
            "date, infusions received, reason when stopped early",
        ),
        Transition(
            "complete",
            frozenset({Status.IN_FOLLOW_UP}),
            Status.COMPLETED,
            "date of the Month 12 visit",
        ),
        Transition(
            "withdraw",
            ACTIVE_AFTER_CONSENT | {Status.LOST_TO_FOLLOW_UP},
            Status.WITHDRAWN,
            "date, reason, whether safety follow-up continues",
        ),
        Transition(
            "lose_to_follow_up",
            ACTIVE_AFTER_CONSENT,
            Status.LOST_TO_FOLLOW_UP,
            "last contact date, at least 3 documented contact attempts",
        ),
        Transition(
            "reinstate",
            frozenset({Status.LOST_TO_FOLLOW_UP}),
            "",  # back to the status held before being lost; see services.participant_reinstate
            "date contact was re-established",
        ),
        Transition(
            "die",
            ACTIVE_AFTER_CONSENT | {Status.LOST_TO_FOLLOW_UP},
            Status.DIED,
            "date, cause, linked SAE",
        ),
    )
}


def allowed_transitions(status: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]


def is_allowed(name: str, status: str) -> bool:
    return status in TRANSITIONS[name].sources
