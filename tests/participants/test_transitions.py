"""The table of allowed status changes (participants/transitions.py), driven through the services.

Every allowed (source, transition) works and writes one StatusChange row; every pair not in the
table is refused with a message naming the participant's status, and changes nothing.
"""

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError

from participants.models import PHASE_OF_STATUS, Status, StatusChange
from participants.services import enrollment, leaving, treatment
from participants.transitions import TRANSITIONS, allowed_transitions, is_allowed
from schedule import services
from tests.support import PASSWORD, REPO_ROOT, all_met, consent, local

NOW = dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC)
TZ = "America/New_York"


def d(month, day):
    return dt.date(2026, month, day)


# One call per transition, with dates that suit every source state of that transition.
def screen_fail(p, by, inv, on=dt.date(2026, 1, 20)):
    return enrollment.status_screen_fail(
        p, on=on, failed_criteria=["IN_ACTIVE"], rescreen_allowed=True, by=by, reason="not active"
    )


def enroll(p, by, inv, on=dt.date(2026, 1, 12)):
    return enrollment.status_enroll(
        p, answers=all_met(), assessed_on=on, signed_off_by=inv, by=inv, password=PASSWORD
    )


def apheresis(p, by, inv, on=dt.date(2026, 2, 12)):
    return enrollment.apheresis_record(
        p, collected_on=on, adequate_collection=True, product_id=f"P-{p.pk}-{on}", by=by
    )


def manufacturing_fail(p, by, inv, on=dt.date(2026, 2, 9)):
    return enrollment.status_manufacturing_fail(p, on=on, reason="low expansion", by=by)


def start_treatment(p, by, inv):
    return treatment.status_start_treatment(
        p, infused_at=local(d(2, 20), 9, TZ), dose="1e6/kg", lot="L-1", by=by
    )


def end_treatment(p, by, inv):
    return treatment.status_end_treatment(
        p, on=d(2, 21), by=by, reason="CRS grade 3", reason_code="crs_icans", planned_infusions=6
    )


def complete(p, by, inv):
    return treatment.status_complete(p, on=d(2, 25), by=by)


def withdraw(p, by, inv):
    return leaving.status_withdraw(
        p,
        on=d(2, 27),
        reason="moved away",
        reason_code="other",
        safety_follow_up_continues=True,
        by=by,
    )


def lose_to_follow_up(p, by, inv):
    return leaving.status_lose_to_follow_up(
        p,
        last_contact_on=d(2, 21),
        contact_attempts=[d(2, 23), d(2, 24), d(2, 25)],
        by=by,
        reason="no answer",
    )


def reinstate(p, by, inv):
    return leaving.status_reinstate(p, on=d(2, 27), by=by, reason="called back")


def die(p, by, inv):
    return leaving.status_die(p, on=d(2, 27), cause="sepsis", sae_reference="SAE-7", by=by)


CALLS = {
    "screen_fail": screen_fail,
    "enroll": enroll,
    "apheresis": apheresis,
    "manufacturing_fail": manufacturing_fail,
    "start_treatment": start_treatment,
    "end_treatment": end_treatment,
    "complete": complete,
    "withdraw": withdraw,
    "lose_to_follow_up": lose_to_follow_up,
    "reinstate": reinstate,
    "die": die,
}

# How to reach each state from consent, through the services.
PATHS = {
    Status.SCREENING: [],
    Status.SCREEN_FAILED: [screen_fail],
    Status.ENROLLED: [enroll],
    Status.APHERESIS_DONE: [enroll, lambda p, by, inv: apheresis(p, by, inv, on=d(2, 2))],
    Status.MANUFACTURING_FAILED: [
        enroll,
        lambda p, by, inv: apheresis(p, by, inv, on=d(2, 2)),
        manufacturing_fail,
    ],
    Status.IN_TREATMENT: [
        enroll,
        lambda p, by, inv: apheresis(p, by, inv, on=d(2, 2)),
        start_treatment,
    ],
    Status.IN_FOLLOW_UP: [
        enroll,
        lambda p, by, inv: apheresis(p, by, inv, on=d(2, 2)),
        start_treatment,
        end_treatment,
    ],
    Status.COMPLETED: [
        enroll,
        lambda p, by, inv: apheresis(p, by, inv, on=d(2, 2)),
        start_treatment,
        end_treatment,
        complete,
    ],
    Status.WITHDRAWN: [withdraw],
    Status.LOST_TO_FOLLOW_UP: [lose_to_follow_up],
    Status.DIED: [die],
}

ALLOWED = sorted((t.name, str(s)) for t in TRANSITIONS.values() for s in t.sources)
REFUSED = sorted(
    (name, str(s)) for name in TRANSITIONS for s in Status if (name, str(s)) not in ALLOWED
)


def test_every_status_and_transition_is_covered():
    assert set(CALLS) == set(TRANSITIONS)
    assert set(PATHS) == set(Status)
    assert len(ALLOWED) + len(REFUSED) == len(TRANSITIONS) * len(Status)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def put_in(protocol, site, coordinator, investigator, frozen):
    """A participant driven through the services into `status`."""

    def make(status):
        p = consent(site, coordinator, d(1, 5))
        for step in PATHS[status]:
            step(p, coordinator, investigator)
        p.refresh_from_db()
        assert p.status == status
        return p

    return make


@pytest.mark.parametrize(("name", "source"), ALLOWED)
def test_allowed_transition_moves_the_participant_and_writes_history(
    name, source, put_in, coordinator, investigator, frozen
):
    p = put_in(source)
    before = StatusChange.objects.filter(participant=p).count()
    assert before == len(PATHS[source]) + 1  # consent wrote the first row

    result = CALLS[name](p, coordinator, investigator)

    p.refresh_from_db()
    expected = TRANSITIONS[name].target or Status.SCREENING  # reinstate: back to before (screening)
    assert p.status == expected
    assert p.phase == PHASE_OF_STATUS[expected]
    assert StatusChange.objects.filter(participant=p).count() == before + 1
    change = p.status_changes.last()
    assert (change.from_status, change.to_status) == (source, expected)
    # Eligibility is signed off by the investigator in person; everything else the coordinator.
    assert change.changed_by == (investigator if name == "enroll" else coordinator)
    assert change.changed_at == frozen
    assert change.effective_on <= frozen.date()
    if name in ("screen_fail", "manufacturing_fail", "end_treatment", "withdraw", "die"):
        assert change.reason  # these record why
    assert result is not None


@pytest.mark.parametrize("status", list(Status))
def test_transitions_not_in_the_table_are_refused_naming_the_status(
    status, put_in, coordinator, investigator
):
    p = put_in(status)
    refused = [name for name, s in REFUSED if s == status]
    assert refused, "every status refuses something"
    history = StatusChange.objects.filter(participant=p).count()
    for name in refused:
        with pytest.raises(ValidationError) as error:
            CALLS[name](p, coordinator, investigator)
        message = " ".join(error.value.messages)
        assert f"{p.label} is {Status(status).label.lower()}" in message, (name, message)
        p.refresh_from_db()
        assert p.status == status, name
        assert StatusChange.objects.filter(participant=p).count() == history, name


def test_the_table_answers_what_is_allowed_from_each_status():
    assert {t.name for t in allowed_transitions(Status.SCREENING)} == {
        "screen_fail",
        "enroll",
        "withdraw",
        "lose_to_follow_up",
        "die",
    }
    for final in (Status.SCREEN_FAILED, Status.COMPLETED, Status.WITHDRAWN, Status.DIED):
        assert allowed_transitions(final) == []
    assert is_allowed("reinstate", Status.LOST_TO_FOLLOW_UP)
    assert not is_allowed("lose_to_follow_up", Status.LOST_TO_FOLLOW_UP)


@pytest.mark.parametrize(
    "before_lost",
    [
        Status.SCREENING,
        Status.ENROLLED,
        Status.APHERESIS_DONE,
        Status.MANUFACTURING_FAILED,
        Status.IN_TREATMENT,
        Status.IN_FOLLOW_UP,
    ],
)
def test_reinstate_returns_to_the_status_held_before_being_lost(
    before_lost, put_in, coordinator, investigator
):
    p = put_in(before_lost)
    lose_to_follow_up(p, coordinator, investigator)
    p.refresh_from_db()
    assert p.status == Status.LOST_TO_FOLLOW_UP
    reinstate(p, coordinator, investigator)
    p.refresh_from_db()
    assert p.status == before_lost
    assert p.phase == PHASE_OF_STATUS[before_lost]
    assert list(p.status_changes.values_list("from_status", "to_status"))[-2:] == [
        (before_lost, Status.LOST_TO_FOLLOW_UP),
        (Status.LOST_TO_FOLLOW_UP, before_lost),
    ]


def test_history_has_one_row_per_transition_done(put_in, coordinator, investigator):
    p = put_in(Status.COMPLETED)
    rows = list(p.status_changes.values_list("from_status", "to_status"))
    assert rows == [
        ("", Status.SCREENING),
        (Status.SCREENING, Status.ENROLLED),
        (Status.ENROLLED, Status.APHERESIS_DONE),
        (Status.APHERESIS_DONE, Status.IN_TREATMENT),
        (Status.IN_TREATMENT, Status.IN_FOLLOW_UP),
        (Status.IN_FOLLOW_UP, Status.COMPLETED),
    ]
    # Each consecutive row starts where the previous one ended: no change happened off the books.
    for (_, previous_to), (next_from, _) in zip(rows, rows[1:], strict=False):
        assert previous_to == next_from
    # simple_history shows every saved status, and each one is in the StatusChange history.
    saved_statuses = set(p.history.values_list("status", flat=True))
    assert saved_statuses == {to for _, to in rows}


def test_first_infusion_plan_is_refused_outside_enrollment_to_first_infusion(
    put_in, coordinator, investigator
):
    for status in (Status.SCREENING, Status.IN_TREATMENT, Status.WITHDRAWN):
        p = put_in(status)
        with pytest.raises(ValidationError, match=f"is {Status(status).label.lower()}"):
            services.first_infusion_plan(p, planned_on=d(2, 27), by=coordinator)


def test_only_the_participant_services_assign_a_participant_status():
    """Status changes only through participants.services.status.apply_transition."""
    root = REPO_ROOT
    assignment = re.compile(
        r"\bparticipant\w*\.status\s*=[^=]|Participant\.objects[^\n]*\.update\([^)]*\bstatus="
    )
    offenders = []
    for path in root.glob("*/**/*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".venv/", "tests/", "benchmarks/")) or "/migrations/" in relative:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if assignment.search(line) and relative != "participants/services/status.py":
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
    source = (root / "participants/services/status.py").read_text()
    assert len(re.findall(r"participant\.status\s*=[^=]", source)) == 1  # in apply_transition only
