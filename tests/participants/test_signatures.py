"""Signatures (21 CFR 11.50/11.200, participants/signatures.py): the password re-entered at signing,
what a signed record keeps and shows, and the eligibility checklist as a draft the investigator
signs."""

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from axes.models import AccessFailureLog
from django.core.exceptions import ValidationError
from django.urls import reverse

from participants.models import Eligibility, StatusChange
from participants.signatures import (
    PASSWORD_FIELD,
    SignatureMeaning,
    refuse_unsigned_change,
    signature_shown,
    signature_take,
)
from schedule import services
from schedule.services.lifecycle import eligibility_draft
from tests.support import ENROLL_ON, PASSWORD, Journey, all_met

NEW_YORK = ZoneInfo("America/New_York")
ELIGIBILITY = SignatureMeaning.ELIGIBILITY_CONFIRMED


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    investigator.first_name, investigator.last_name = "Grace", "Hopper"
    investigator.save()
    return Journey(site, coordinator, investigator)


def answers_form(answers: dict, **extra) -> dict:
    data = {f"crit_{code}": "yes" if met else "no" for code, met in answers.items()}
    return {"assessed_on": ENROLL_ON.isoformat(), **data, **extra}


def enroll_url(p) -> str:
    return reverse("dashboard:participant_action", args=[p.pk, "enroll"])


def draft(journey, answers=None):
    with journey.on(ENROLL_ON, hour=10):
        return eligibility_draft(
            journey.p,
            answers=answers if answers is not None else {"IN_SLE": True, "IN_AGE": True},
            assessed_on=ENROLL_ON,
            by=journey.by,
        )


def sign(journey, password=PASSWORD):
    with journey.on(ENROLL_ON):
        return services.participant_enroll(
            journey.p,
            answers=all_met(),
            assessed_on=ENROLL_ON,
            signed_off_by=journey.investigator,
            by=journey.investigator,
            password=password,
        )


def test_a_signature_is_the_full_name_at_signing_its_meaning_and_the_time_in_utc(investigator):
    investigator.first_name, investigator.last_name = "Grace", "Hopper"
    signed = signature_take(
        investigator, PASSWORD, ELIGIBILITY, now=dt.datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)
    )
    assert signed.signed_name == "Grace Hopper"
    assert signed.signed_meaning == "eligibility_confirmed"
    assert signed.signed_at == dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)
    assert signed.signed_at.utcoffset() == dt.timedelta(0)
    assert signed.values()["signed_by"] == investigator


def test_a_signature_with_a_wrong_password_is_refused_and_nothing_is_saved(journey, caplog):
    checklist = draft(journey)
    history_rows = checklist.history.count()
    changes = StatusChange.objects.count()
    with caplog.at_level(logging.WARNING), pytest.raises(ValidationError) as refused:
        sign(journey, password="not-my-password")
    assert list(refused.value.message_dict) == [PASSWORD_FIELD]
    assert "nothing was signed or saved" in refused.value.message_dict[PASSWORD_FIELD][0]
    p = journey.refresh()
    assert p.status == "screening" and p.study_id is None
    checklist.refresh_from_db()
    assert checklist.signed_at is None and checklist.signed_by is None
    assert checklist.answers == {"IN_SLE": True, "IN_AGE": True}
    assert checklist.history.count() == history_rows
    assert StatusChange.objects.count() == changes
    # Logged, without the username or the participant.
    line = next(r.getMessage() for r in caplog.records if "Signature refused" in r.getMessage())
    assert journey.investigator.username not in line and p.screening_number not in line


def test_an_empty_password_signs_nothing(journey):
    with pytest.raises(ValidationError) as refused:
        sign(journey, password="")
    assert refused.value.message_dict == {PASSWORD_FIELD: ["Enter your password to sign."]}
    assert not Eligibility.objects.filter(participant=journey.p).exists()


def test_a_wrong_password_on_the_page_is_refused_under_it_and_counted_like_a_failed_log_in(
    journey, client
):
    client.force_login(journey.investigator)
    with journey.on(ENROLL_ON):
        response = client.post(enroll_url(journey.p), answers_form(all_met(), password="wrong"))
    assert response.status_code == 200
    assert "nothing was signed or saved" in str(response.context["form"].errors[PASSWORD_FIELD])
    assert journey.refresh().status == "screening"
    assert not Eligibility.objects.filter(participant=journey.p).exists()
    failure = AccessFailureLog.objects.get()
    assert failure.username == journey.investigator.username


def test_a_locked_out_account_cannot_sign_even_with_its_password(journey, client, settings):
    client.force_login(journey.investigator)
    with journey.on(ENROLL_ON):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(enroll_url(journey.p), answers_form(all_met(), password="wrong"))
        response = client.post(enroll_url(journey.p), answers_form(all_met(), password=PASSWORD))
    assert response.status_code in (200, 429)
    assert journey.refresh().status == "screening"
    assert not Eligibility.objects.filter(participant=journey.p, signed_at__isnull=False).exists()


def test_the_coordinators_draft_survives_and_the_investigator_signs_it(journey, client):
    client.force_login(journey.by)
    with journey.on(ENROLL_ON, hour=10):
        page = client.get(enroll_url(journey.p))
        assert PASSWORD_FIELD not in page.context["form"].fields
        partial = {"crit_IN_SLE": "yes", "crit_EX_PREG": "no", "assessed_on": "2026-01-12"}
        kept = client.post(enroll_url(journey.p), partial)
    assert kept.status_code == 302
    checklist = Eligibility.objects.get(participant=journey.p)
    assert checklist.answers == {"IN_SLE": True, "EX_PREG": False}
    assert checklist.prepared_by == journey.by and checklist.signed_at is None
    assert journey.refresh().status == "screening"

    client.force_login(journey.investigator)
    with journey.on(ENROLL_ON):
        form = client.get(enroll_url(journey.p)).context["form"]
        # The investigator opens the coordinator's answers, and signs with the meaning shown.
        assert form.initial["crit_IN_SLE"] == "yes" and form.initial["crit_EX_PREG"] == "no"
        assert "eligibility confirmed" in form.fields[PASSWORD_FIELD].help_text
        signed = client.post(enroll_url(journey.p), answers_form(all_met(), password=PASSWORD))
    assert signed.status_code == 302
    checklist.refresh_from_db()
    assert checklist.answers == all_met()
    assert checklist.prepared_by == journey.by
    assert checklist.signed_by == journey.investigator
    assert checklist.signed_name == "Grace Hopper"
    assert checklist.signed_meaning == "eligibility_confirmed"
    assert checklist.signed_at == journey.at(ENROLL_ON, 18).astimezone(dt.UTC)
    assert journey.refresh().status == "enrolled"


def test_the_signature_shows_name_meaning_site_time_and_utc(journey, client):
    sign(journey)
    client.force_login(journey.by)
    html = client.get(reverse("dashboard:participant", args=[journey.p.pk])).content.decode()
    # 18:00 in New York on 12 Jan 2026 (EST, UTC-5) is 23:00 UTC.
    assert "Grace Hopper" in html
    assert "eligibility confirmed" in html
    assert "2026-01-12 18:00 EST (site time)" in html
    assert "2026-01-12 23:00 UTC" in html


def test_the_signature_keeps_the_printed_name_after_the_account_is_renamed(journey):
    sign(journey)
    journey.investigator.last_name = "Hopper-Smith"
    journey.investigator.save()
    checklist = Eligibility.objects.get(participant=journey.p)
    shown = signature_shown(checklist, NEW_YORK)
    assert shown.name == "Grace Hopper" and shown.meaning == "eligibility confirmed"


def test_a_draft_waits_on_the_participant_page(journey, client):
    draft(journey)
    client.force_login(journey.investigator)
    html = client.get(reverse("dashboard:participant", args=[journey.p.pk])).content.decode()
    assert "waiting for the investigator's signature" in html
    assert "2 of 7 criteria answered" in html


def test_a_signed_record_refuses_an_unsigned_change(journey):
    sign(journey)
    checklist = Eligibility.objects.get(participant=journey.p)
    rows = checklist.history.count()
    changed = {**all_met(), "EX_PREG": True}
    with pytest.raises(ValidationError) as refused:
        with journey.on(ENROLL_ON + dt.timedelta(days=1)):
            eligibility_draft(journey.p, answers=changed, assessed_on=ENROLL_ON, by=journey.by)
    assert list(refused.value.message_dict) == ["answers"]
    assert "needs a new signature" in refused.value.message_dict["answers"][0]
    checklist.refresh_from_db()
    assert checklist.answers == all_met() and checklist.history.count() == rows


def test_refuse_unsigned_change_keys_each_changed_field_and_lets_a_new_signature_through(
    journey, investigator
):
    sign(journey)
    checklist = Eligibility.objects.get(participant=journey.p)
    with pytest.raises(ValidationError) as refused:
        refuse_unsigned_change(checklist, ["answers", "assessed_on"], signature=None)
    assert set(refused.value.message_dict) == {"answers", "assessed_on"}
    refuse_unsigned_change(checklist, [], signature=None)  # nothing changed: nothing to sign
    again = signature_take(investigator, PASSWORD, ELIGIBILITY, now=journey.at(ENROLL_ON, 19))
    refuse_unsigned_change(checklist, ["answers"], signature=again)


def test_saving_the_same_draft_again_writes_no_history_row(journey):
    checklist = draft(journey)
    rows = checklist.history.count()
    again = draft(journey)
    assert again.pk == checklist.pk
    assert again.history.count() == rows == 1


def test_a_changed_draft_writes_one_history_row_with_its_reason(journey):
    draft(journey)
    checklist = draft(journey, answers={"IN_SLE": True, "IN_AGE": False})
    assert checklist.history.count() == 2
    assert "draft saved" in checklist.history.first().history_change_reason
