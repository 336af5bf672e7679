"""Why people left, as the sponsor sees it: withdrawals and early stops are tallied by coded
category (participants.reasons), never by the coordinator's free-text note, which can name people
and stays on the participant's record at the site."""

import datetime as dt
import io
import json

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from participants.models import StaffRole, StatusChange
from participants.reasons import NOT_CODED, WithdrawalReason
from reports.selectors import enrollment_figures
from schedule import services
from tests.reports.conftest import WITHDRAWAL_NOTE
from tests.support import Journey, frozen, make_user

FEB = dt.date(2026, 2, 1)
PAGE = reverse("dashboard:enrollment_report")


def test_a_withdrawal_is_tallied_by_its_category_and_its_note_is_nowhere_in_the_report(
    trial_history, client, settings
):
    figures = enrollment_figures(FEB)
    total = figures["total"]["tallies"]["withdrawal_reasons"]
    assert total["to_date"] == {WithdrawalReason.CONSENT_WITHDRAWN.label: 1}

    client.force_login(make_user("manager", StaffRole.STUDY_MANAGER))
    with frozen(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)):
        page = client.get(PAGE, {"month": "2026-02"}).content.decode()
        as_csv = client.get(PAGE, {"month": "2026-02", "_export": "csv"}).content.decode()
        as_json = client.get(PAGE, {"month": "2026-02", "_export": "json"}).content.decode()
    text = io.StringIO()
    call_command("enrollment_report", "--month", "2026-02", "--format", "text", stdout=text)
    assert WithdrawalReason.CONSENT_WITHDRAWN.label in page
    for output in (json.dumps(figures), page, as_csv, as_json, text.getvalue()):
        assert "Ohio" not in output and "Whitfield" not in output
    assert WITHDRAWAL_NOTE in StatusChange.objects.get(to_status="withdrawn").reason


def test_a_withdrawal_without_a_category_is_refused_and_saves_nothing(
    protocol, site, coordinator, investigator
):
    journey = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    with journey.on(dt.date(2026, 1, 9)), pytest.raises(ValidationError) as refused:
        services.participant_withdraw(
            journey.p,
            on=dt.date(2026, 1, 9),
            reason="changed her mind",
            reason_code="",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    assert refused.value.message_dict == {
        "reason_code": ["Choose the reason for withdrawal from the list."]
    }
    assert journey.status() == "screening"
    assert not StatusChange.objects.filter(to_status="withdrawn").exists()


def test_an_early_stop_is_tallied_by_category_and_a_row_from_before_codes_as_not_coded(
    trial_history,
):
    march = enrollment_figures(dt.date(2026, 3, 1))["sites"][0]["tallies"]
    assert march["treatment_stopped_reasons"]["month"] == {"CRS or ICANS": 1}
    # A withdrawal recorded before categories existed has no code in its details.
    row = StatusChange.objects.get(to_status="withdrawn")
    row.details.pop("reason_code")
    row.save(update_fields=["details"])
    cache.clear()  # the services only ever add history rows; this test rewrote one behind them
    total = enrollment_figures(FEB)["total"]["tallies"]["withdrawal_reasons"]
    assert total["to_date"] == {NOT_CODED: 1}
