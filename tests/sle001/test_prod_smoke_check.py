"""The production smoke's exactly-once check (scripts/prod_smoke.py): it must fail when an email
is doubled or lost, whichever way (CI runs the smoke itself: scripts/prod-smoke.sh)."""

import importlib.util

from tests.support import REPO_ROOT


def smoke_module():
    spec = importlib.util.spec_from_file_location(
        "prod_smoke", REPO_ROOT / "scripts" / "prod_smoke.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SENT = {"<sle001-outbox-1@h>": "visit_due to a@x", "<sle001-outbox-2@h>": "safety_overdue to b@x"}


def test_every_email_arrived_once_is_no_problem():
    problems = smoke_module().exactly_once_problems(SENT, list(reversed(SENT)), {})
    assert problems == []


def test_an_email_that_arrived_twice_is_a_problem():
    arrived = [*SENT, "<sle001-outbox-2@h>"]
    problems = smoke_module().exactly_once_problems(SENT, arrived, {})
    assert problems == ["<sle001-outbox-2@h> arrived 2 times (doubled)"]


def test_an_email_marked_sent_that_never_arrived_is_lost():
    problems = smoke_module().exactly_once_problems(SENT, ["<sle001-outbox-1@h>"], {})
    assert problems == [
        "<sle001-outbox-2@h> (safety_overdue to b@x) marked sent, never arrived (lost)"
    ]


def test_a_due_row_never_sent_is_lost_and_a_stray_email_is_named():
    unsent = {"<sle001-outbox-3@h>": "safety_overdue to c@x (pending, )"}
    arrived = [*SENT, "<sle001-outbox-9@h>"]
    problems = smoke_module().exactly_once_problems(SENT, arrived, unsent)
    assert problems == [
        "<sle001-outbox-9@h> arrived, its row is not marked sent",
        "safety_overdue to c@x (pending, ) never sent (lost)",
    ]


# The worker is SIGKILLed at t=10 (scripts/prod-smoke.sh), right after the first email arrived.
KILLED_AT = 10.0
TWO = "<sle001-outbox-2@h>"


def mails(*accepted: tuple[str, float]) -> list[dict]:
    return [{"message_id": mid, "accepted_at": at} for mid, at in accepted]


def test_an_email_the_kill_caught_between_acceptance_and_its_row_marked_sent_may_come_twice():
    smoke = smoke_module()
    arrived = mails(("<sle001-outbox-1@h>", 9.0), (TWO, 9.9), (TWO, 12.0))
    resent = smoke.resent_after_the_kill(arrived, {TWO: 12.1}, KILLED_AT)
    assert resent == {TWO}
    ids = [m["message_id"] for m in arrived]
    assert smoke.exactly_once_problems(SENT, ids, {}, resent) == []


def test_a_double_the_kill_does_not_explain_is_still_a_problem():
    smoke = smoke_module()
    cases = {
        "its row was marked sent before the kill": (mails((TWO, 9.9), (TWO, 12.0)), 9.95),
        "both copies came before the kill": (mails((TWO, 9.9), (TWO, 9.9)), 12.1),
        "both copies came after the kill": (mails((TWO, 11.0), (TWO, 12.0)), 12.1),
    }
    for why, (arrived, sent_at) in cases.items():
        resent = smoke.resent_after_the_kill(arrived, {TWO: sent_at}, KILLED_AT)
        ids = ["<sle001-outbox-1@h>", *(m["message_id"] for m in arrived)]
        problems = smoke.exactly_once_problems(SENT, ids, {}, resent)
        assert problems == [f"{TWO} arrived 2 times (doubled)"], why
    three = mails((TWO, 9.9), (TWO, 12.0), (TWO, 13.0))
    assert smoke.resent_after_the_kill(three, {TWO: 12.1}, KILLED_AT) == set()
    assert smoke.resent_after_the_kill(mails((TWO, 9.9), (TWO, 12.0)), {TWO: 12.1}, None) == set()


def test_only_the_emails_in_flight_at_the_kill_may_come_twice():
    """With two worker processes, at most the last two emails accepted before the kill were
    between acceptance and their row marked sent: a batch resent whole (marks rolled back
    together) is a problem."""
    smoke = smoke_module()
    batch = [f"<sle001-outbox-{n}@h>" for n in range(1, 6)]
    arrived = mails(*((mid, 9.0 + n / 10) for n, mid in enumerate(batch)))
    arrived += mails(*((mid, 12.0 + n / 10) for n, mid in enumerate(batch)))
    sent_at = {mid: 13.0 for mid in batch}
    resent = smoke.resent_after_the_kill(arrived, sent_at, KILLED_AT, in_flight=2)
    assert resent == set(batch[-2:])
    problems = smoke.exactly_once_problems(
        dict.fromkeys(batch, "x"), [m["message_id"] for m in arrived], {}, resent
    )
    assert problems == [f"{mid} arrived 2 times (doubled)" for mid in batch[:3]]
