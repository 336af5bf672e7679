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
