"""Bad input on every dashboard form, as a logged-in coordinator: never a server error, and a form
that is not accepted (no redirect) changes nothing. Property-based (hypothesis): text with NUL
bytes, very long strings, impossible and implausible dates (2026-13-01, 9999-12-31), markup and
formulas, unicode. Then the cases found by fuzzing, one by one: `next` only as a local path, reasons
longer than the audit column, dates out of the trial's range, identifiers that follow a pattern.
"""

import datetime as dt
import re

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Length
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from participants.audit import AUDIT_REASON_MAX
from participants.models import Apheresis, Participant, Status, StatusChange
from safety.models import AdverseEvent, Grading, LabResult
from schedule import services
from schedule.models import Assessment, Reanchor, Visit, VisitStatus
from tests.support import TODAY, consent, days, enrolled, frozen, visit

RANGE_MESSAGE = "Enter a date between 2020-01-01 and 2028-03-10."
REAL_DATE_MESSAGE = "Enter a real calendar date, e.g. 2026-03-10"

ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "9999-12-31",
    "2026-13-01",
    "2999-01-01",
    "0001-01-01",
    "2026-02-30",
    "2026-03-10",
    "2026-03-09",
    "10/03/2026",
    "25:61",
    "09:00",
    "-1",
    "1e999",
    "yes",
    "no",
    "on",
    '=HYPERLINK("http://evil.example/","Click me")',
    "<b/onclick=alert(1)>",
    "ü∂ƒ©˙∆˚¬…æ 日本語 🧬",
    "/participants/",
    "//evil.example/",
    "http://evil.example/",
]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=300),
    st.dates().map(dt.date.isoformat),
    st.integers().map(str),
)


def snapshot() -> dict:
    """What a form could change: every clinical row and its audit trail."""
    return {
        "participants": list(Participant.objects.order_by("pk").values_list("pk", "status")),
        "visits": list(
            Visit.objects.order_by("pk").values_list(
                "pk", "status", "actual_date", "target_date", "reason", "dose", "lot"
            )
        ),
        "assessments": list(
            Assessment.objects.order_by("pk").values_list("pk", "status", "result", "reason")
        ),
        "counts": [
            model.objects.count()
            for model in (StatusChange, Reanchor, AdverseEvent, Grading, LabResult)
        ],
        "history": [Visit.history.count(), Participant.history.count()],
    }


@pytest.fixture
def people(client, coordinator, investigator, site, protocol):
    """Time frozen at NOW; the coordinator logged in. A participant in screening (SCR open) and
    one enrolled with D0 planned (APH open)."""
    with frozen():
        client.force_login(coordinator)
        screening = consent(site, coordinator, TODAY - days(5))
        planned = enrolled(site, coordinator, investigator, TODAY - days(30), d0=TODAY + days(10))
        yield {"screening": screening, "planned": planned}


def _assessment(p, visit_code, code):
    return visit(p, visit_code).assessments.get(definition__code=code)


# (name, url of the form, extra fields always sent): each form a coordinator fills in.
def _targets(people) -> dict[str, tuple[str, dict]]:
    s, p = people["screening"], people["planned"]
    action = lambda who, slug: reverse("dashboard:participant_action", args=[who.pk, slug])  # noqa: E731
    return {
        "visit done": (reverse("dashboard:visit_done", args=[visit(s, "SCR").pk]), {}),
        "apheresis done": (reverse("dashboard:visit_done", args=[visit(p, "APH").pk]), {}),
        "infusion done": (reverse("dashboard:visit_done", args=[visit(p, "INF1").pk]), {}),
        "visit missed": (reverse("dashboard:visit_missed", args=[visit(p, "APH").pk]), {}),
        "assessment result": (
            reverse("dashboard:assessment_record", args=[_assessment(s, "SCR", "VS").pk]),
            {},
        ),
        "lab values": (
            reverse("dashboard:assessment_record", args=[_assessment(s, "SCR", "CBC").pk]),
            {},
        ),
        "assessment not done": (
            reverse("dashboard:assessment_record", args=[_assessment(s, "SCR", "PE").pk]),
            {"not_done": "1"},
        ),
        "withdraw": (action(s, "withdraw"), {}),
        "screen failure": (action(s, "screen-fail"), {}),
        "unscheduled visit": (action(s, "unscheduled-visit"), {}),
        "first-infusion plan": (action(p, "plan-infusion"), {}),
        "withdraw planned": (action(p, "withdraw"), {}),
        "register consent": (reverse("dashboard:participant_new"), {}),
        "adverse event": (reverse("dashboard:ae_new", args=[s.pk]), {}),
    }


FIELDS = {
    "visit done": ["actual_date"],
    "apheresis done": ["actual_date", "product_id", "adequate_collection"],
    "infusion done": ["actual_date", "started_time", "dose", "lot"],
    "visit missed": ["reason"],
    "assessment result": ["result", "is_abnormal", "completed_on", "completed_time"],
    "lab values": ["ANC_value", "ANC_unit", "PLT_value", "completed_on", "completed_time"],
    "assessment not done": ["reason", "not_applicable"],
    "withdraw": ["on", "reason_code", "reason", "safety_follow_up_continues"],
    "screen failure": ["on", "failed_criteria", "rescreen_allowed", "reason"],
    "unscheduled visit": ["on", "reason"],
    "first-infusion plan": ["planned_on", "reason"],
    "withdraw planned": ["on", "reason_code", "reason", "safety_follow_up_continues"],
    "register consent": [
        "site",
        "consent_on",
        "consent_time",
        "consent_form_version",
        "age_at_consent",
        "screening_number",
    ],
    "adverse event": ["term", "onset_date", "grade", "outcome", "aware_on", "aware_time"],
}


def _post_and_check(client, url: str, data: dict) -> None:
    """One example, rolled back afterwards: the test client re-raises any server error; a form
    shown again (not a redirect) must have saved nothing."""
    with transaction.atomic():
        before = snapshot()
        response = client.post(url, data)
        assert response.status_code in (200, 302), response.status_code
        if response.status_code != 302:
            assert snapshot() == before
        transaction.set_rollback(True)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_no_form_fails_or_half_saves_on_any_input(people, client, name):
    with frozen():
        url, extra = _targets(people)[name]
        fields = st.fixed_dictionaries(
            {field: VALUES for field in FIELDS[name]}, optional={"next": VALUES}
        )

        @hypothesis_settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(data=fields)
        def check(data):
            _post_and_check(client, url, {**extra, **data})

        check()


# --- `next`: only a local path ----------------------------------------------------------------


@pytest.mark.parametrize(
    "next_url", ["2026-13-01", "\x00", "/\x00", "http://evil.example/", "//evil.example/", ""]
)
def test_a_next_that_is_not_a_local_path_goes_to_the_participant_page(people, client, next_url):
    p = people["screening"]
    with frozen():
        scr = visit(p, "SCR")
        url = reverse("dashboard:visit_done", args=[scr.pk])
        form = client.get(url, {"next": next_url}).content.decode()
        response = client.post(url, {"actual_date": "2026-03-09", "next": next_url})
    assert 'name="next" value=""' in form
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:participant", args=[p.pk])
    scr.refresh_from_db()
    assert scr.status == VisitStatus.DONE


def test_a_local_next_is_followed(people, client):
    scr = visit(people["screening"], "SCR")
    with frozen():
        response = client.post(
            reverse("dashboard:visit_done", args=[scr.pk]),
            {"actual_date": "2026-03-09", "next": "/calendar/?week=2026-03-09"},
        )
    assert response["Location"] == "/calendar/?week=2026-03-09"


# --- Reasons longer than the audit column ------------------------------------------------------


def longest_audit_reason() -> int:
    """The longest history_change_reason in any history table (PostgreSQL would refuse more than
    the column holds; SQLite does not, so the tests measure it)."""
    longest = 0
    for model in apps.get_models():
        if model.__name__.startswith("Historical"):
            found = model.objects.aggregate(n=Max(Length("history_change_reason")))["n"]
            longest = max(longest, found or 0)
    return longest


def test_a_101_character_withdrawal_reason_is_saved_whole(people, client):
    p = people["planned"]
    reason = "Moved abroad for work; " + "x" * 78
    assert len(reason) == 101
    with frozen():
        response = client.post(
            reverse("dashboard:participant_action", args=[p.pk, "withdraw"]),
            {
                "on": "2026-03-10",
                "reason_code": "other",
                "reason": reason,
                "safety_follow_up_continues": "no",
            },
        )
    assert response.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.WITHDRAWN
    assert p.status_changes.get(to_status=Status.WITHDRAWN).reason == reason
    assert visit(p, "ET").reason == reason
    assert longest_audit_reason() <= AUDIT_REASON_MAX


def test_an_88_character_reason_for_moving_the_first_infusion_is_saved_whole(people, client):
    p = people["planned"]
    reason = "Product release delayed by the manufacturer; " + "y" * 43
    assert len(reason) == 88
    with frozen():
        response = client.post(
            reverse("dashboard:participant_action", args=[p.pk, "plan-infusion"]),
            # Confirming the move previewed for that date (the first post shows the preview).
            {"planned_on": "2026-03-23", "reason": reason, "preview_of": "2026-03-23"},
        )
    assert response.status_code == 302
    move = Reanchor.objects.get(participant=p)
    assert move.reason == reason and move.new_anchor == dt.date(2026, 3, 23)
    audit = visit(p, "INF3").history.first().history_change_reason
    assert len(audit) == AUDIT_REASON_MAX and audit.endswith("…")
    assert audit.startswith("re-anchored: Product release delayed")
    assert longest_audit_reason() <= AUDIT_REASON_MAX


# --- Dates in the trial's range ----------------------------------------------------------------


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    "day, message",
    [
        ("2999-01-01", RANGE_MESSAGE),
        ("9999-12-31", RANGE_MESSAGE),
        ("2019-12-31", RANGE_MESSAGE),
        ("2026-13-01", REAL_DATE_MESSAGE),
        ("2026-02-30", REAL_DATE_MESSAGE),
    ],
)
def test_an_unscheduled_visit_date_out_of_range_is_refused(people, client, day, message):
    p = people["screening"]
    before = p.visits.count()
    with frozen():
        response = client.post(
            reverse("dashboard:participant_action", args=[p.pk, "unscheduled-visit"]),
            {"on": day, "reason": "Rash"},
        )
    assert response.status_code == 200
    assert field_error(response.content.decode(), "on") == message
    assert p.visits.count() == before


def test_the_services_refuse_a_date_out_of_range_too(people, coordinator):
    with frozen(), pytest.raises(ValidationError) as refused:
        services.unscheduled_visit_add(
            people["screening"], on=dt.date(9999, 12, 31), reason="Rash", by=coordinator
        )
    assert refused.value.message_dict == {"on": ["Enter a date between 2020-01-01 and 2028-03-10."]}


def test_an_unscheduled_visit_may_be_planned_ahead_within_the_range(people, client):
    p = people["screening"]
    with frozen():
        response = client.post(
            reverse("dashboard:participant_action", args=[p.pk, "unscheduled-visit"]),
            {"on": "2026-04-01", "reason": "Rash follow-up"},
        )
    assert response.status_code == 302
    assert p.visits.filter(definition__code="UNS", target_date=dt.date(2026, 4, 1)).exists()


# --- Identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["=1+1", "<b/onclick=alert(1)>", "SCR 14", "A" * 21, "-SCR"])
def test_a_screening_number_follows_the_pattern(people, client, site, number):
    with frozen():
        response = client.post(
            reverse("dashboard:participant_new"),
            {
                "site": site.pk,
                "consent_on": "2026-03-10",
                "consent_time": "09:00",
                "consent_form_version": "ICF v2.0",
                "age_at_consent": "40",
                "screening_number": number,
            },
        )
    assert response.status_code == 200
    error = field_error(response.content.decode(), "screening_number")
    assert "Use letters, digits, - or /, e.g. SCR-014" in error or "at most 20" in error
    assert Participant.objects.count() == 2


def test_the_services_refuse_a_screening_number_or_product_id_off_pattern(people, coordinator):
    with frozen():
        with pytest.raises(ValidationError) as refused:
            consent(people["screening"].site, coordinator, TODAY, screening_number="=1+1")
        assert "screening_number" in refused.value.message_dict
        aph = visit(people["planned"], "APH")
        with pytest.raises(ValidationError) as refused:
            services.visit_record_done(
                aph,
                actual_date=TODAY,
                product_id="<b>P-1</b>",
                adequate_collection=True,
                by=coordinator,
            )
        assert "product_id" in refused.value.message_dict


@pytest.mark.parametrize(
    "model, field, bad, good",
    [
        (Participant, "screening_number", "=1+1", "SCR-014"),
        (Participant, "first_infusion_dose", "@SUM(A1)", "1x10^8 cells"),
        (Participant, "first_infusion_lot", "<b>L1</b>", "LOT-2026-014"),
        (Apheresis, "product_id", "-P1", "COI-S01-001-1"),
        (Visit, "dose", "=1", "1e6 cells/kg"),
        (Visit, "lot", "L 1", "L-1"),
    ],
)
def test_the_model_fields_carry_the_patterns_for_the_admin(model, field, bad, good):
    column = model._meta.get_field(field)
    assert column.clean(good, None) == good
    with pytest.raises(ValidationError):
        column.clean(bad, None)
