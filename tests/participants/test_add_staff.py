"""manage.py add_staff on a database without the demo: the login it makes can do its role's work
in the admin, a bad request is refused with a message and changes nothing, a second run updates."""

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.http import HttpRequest  # django-axes needs the request a log-in comes with
from django.urls import reverse

from participants.models import StaffProfile, StaffRole
from participants.staff import staff_add
from schedule.models import Visit
from tests.support import NOW, _database_url_for_subprocess, consent, make_user

ROOT = Path(__file__).resolve().parents[2]


def add_staff(username, *args) -> str:
    out = io.StringIO()
    call_command("add_staff", username, *args, stdout=out)
    return out.getvalue()


def one_time_password(output: str) -> str:
    return re.search(r"One-time password \(shown only now\): (\S+)", output).group(1)


def consent_post(site) -> dict:
    return {
        "site": site.pk,
        "consent_on": "2026-03-09",
        "consent_time": "09:30",
        "consent_form_version": "ICF v2.0",
        "age_at_consent": "35",
        "screening_number": "",
    }


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_add_staff_on_a_fresh_database_lets_the_coordinator_record_in_the_admin(
    protocol, site, client
):
    output = add_staff(
        "alice", "--email", "alice@example.org", "--role", "coordinator", "--site", "S01"
    )

    assert "Added alice: Research coordinator at S01 (group “Coordinators”)." in output
    assert client.login(request=HttpRequest(), username="alice", password=one_time_password(output))
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:participants_participant_add")).status_code == 200
    response = client.post(reverse("admin:participants_participant_add"), consent_post(site))
    assert response.status_code == 302, response.content.decode()[-2000:]
    visit = Visit.objects.get(participant__site=site, definition__code="SCR")
    assert client.get(reverse("admin:schedule_visit_change", args=[visit.pk])).status_code == 200
    assert client.get(reverse("admin:schedule_visit_done", args=[visit.pk])).status_code == 200


def test_a_coordinator_added_by_the_command_sees_no_other_site(protocol, site, site2, client):
    output = add_staff(
        "alice", "--email", "alice@example.org", "--role", "coordinator", "--site", "S01"
    )
    other = make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    berlin = consent(site2, other, NOW.date())
    visit = berlin.visits.get(definition__code="SCR")

    assert client.login(request=HttpRequest(), username="alice", password=one_time_password(output))
    assert client.get(reverse("admin:schedule_visit_done", args=[visit.pk])).status_code == 404
    # The admin answers another site's object with the dashboard's 404 (no such record).
    change = client.get(reverse("admin:schedule_visit_change", args=[visit.pk]))
    assert change.status_code == 404


def test_a_study_manager_added_by_the_command_sees_every_site_but_cannot_change(
    protocol, site, site2, coordinator, client
):
    participant = consent(site, coordinator, NOW.date())
    visit = participant.visits.get(definition__code="SCR")
    output = add_staff("sam", "--email", "sam@example.org", "--role", "study_manager")

    assert "Added sam: Study manager at every site (group “Study managers”)." in output
    assert client.login(request=HttpRequest(), username="sam", password=one_time_password(output))
    changelist = client.get(reverse("admin:participants_participant_changelist"))
    assert changelist.status_code == 200
    assert participant.label in changelist.content.decode()
    assert client.get(reverse("admin:schedule_visit_change", args=[visit.pk])).status_code == 200
    assert client.get(reverse("admin:participants_participant_add")).status_code == 403
    assert client.get(reverse("admin:schedule_visit_done", args=[visit.pk])).status_code == 403
    user = get_user_model().objects.get(username="sam")
    assert not user.has_perm("participants.change_participant")
    assert user.has_perm("schedule.change_visitdefinition")


def test_a_medical_monitor_added_by_the_command_only_reads(protocol, site, client):
    output = add_staff("mo", "--email", "mo@example.org", "--role", "medical_monitor")

    assert client.login(request=HttpRequest(), username="mo", password=one_time_password(output))
    assert client.get(reverse("admin:participants_participant_changelist")).status_code == 200
    monitor = get_user_model().objects.get(username="mo")
    assert {p.split(".")[1].split("_")[0] for p in monitor.get_all_permissions()} == {"view"}


REFUSALS = [
    # (arguments after the username, field the service names, option the command names, words)
    (["--role", "nurse", "--site", "S01"], "role", "--role", "“nurse” is not a role"),
    (["--role", "coordinator", "--site", "S09"], "sites", "--site", "Unknown site code(s): S09"),
    (["--role", "coordinator"], "sites", "--site", "works at one or more sites"),
    (["--role", "investigator"], "sites", "--site", "works at one or more sites"),
    (["--role", "study_manager", "--site", "S01"], "sites", "--site", "sees every site"),
    (["--role", "medical_monitor", "--site", "S01"], "sites", "--site", "sees every site"),
]


@pytest.mark.parametrize("args, field, option, words", REFUSALS)
def test_add_staff_refuses_with_a_message_and_creates_nothing(site, args, field, option, words):
    with pytest.raises(CommandError) as refused:
        add_staff("alice", "--email", "alice@example.org", *args)

    assert f"{option}: " in str(refused.value) and words in str(refused.value)
    with pytest.raises(ValidationError) as service_refused:
        staff_add(
            username="alice",
            email="alice@example.org",
            role=args[1],
            sites=args[3:4],
        )
    assert list(service_refused.value.message_dict) == [field]
    assert not get_user_model().objects.exists()


def test_an_invalid_email_is_refused(site):
    with pytest.raises(CommandError, match="--email: Enter a valid email address."):
        add_staff("alice", "--email", "alice.example.org", "--role", "coordinator", "--site", "S01")
    assert not get_user_model().objects.exists()


def test_running_it_twice_updates_the_login_instead_of_adding_another(site, site2, client):
    first = add_staff(
        "alice", "--email", "alice@example.org", "--role", "coordinator", "--site", "S01"
    )

    second = add_staff(
        "alice", "--email", "alice@site2.example.org", "--role", "investigator", "--site", "S02"
    )

    assert "Updated alice: Investigator at S02 (group “Investigators”)." in second
    assert "Password unchanged." in second and "One-time password" not in second
    user = get_user_model().objects.get(username="alice")
    assert user.email == "alice@site2.example.org"
    assert StaffProfile.objects.filter(user=user).count() == 1
    assert list(user.staff_profile.sites.values_list("code", flat=True)) == ["S02"]
    assert list(user.groups.values_list("name", flat=True)) == ["Investigators"]
    assert client.login(request=HttpRequest(), username="alice", password=one_time_password(first))


def test_a_role_change_moves_the_login_to_the_new_group_and_keeps_other_groups(site):
    add_staff("alice", "--email", "alice@example.org", "--role", "coordinator", "--site", "S01")
    user = get_user_model().objects.get(username="alice")
    user.groups.add(Group.objects.create(name="Safety board"))

    add_staff("alice", "--email", "alice@example.org", "--role", "medical_monitor")

    assert set(user.groups.values_list("name", flat=True)) == {"Medical monitors", "Safety board"}
    assert not user.staff_profile.sites.exists()


def test_no_password_gives_a_link_where_the_new_login_chooses_its_password(site, client):
    output = add_staff(
        "alice",
        "--email",
        "alice@example.org",
        "--role",
        "coordinator",
        "--site",
        "S01",
        "--no-password",
    )

    user = get_user_model().objects.get(username="alice")
    assert not user.has_usable_password()
    assert "One-time password" not in output
    link = re.search(rf"{re.escape(settings.SITE_URL)}(/accounts/reset/\S+/)", output).group(1)
    set_password_page = client.get(link, follow=True)
    assert set_password_page.status_code == 200
    new = {"new_password1": "a-long-Passphrase-42", "new_password2": "a-long-Passphrase-42"}
    assert client.post(set_password_page.redirect_chain[-1][0], new).status_code == 302
    assert client.login(request=HttpRequest(), username="alice", password="a-long-Passphrase-42")
    # The link worked once.
    assert "Password reset unsuccessful" in client.get(link, follow=True).content.decode()


def test_the_log_names_the_username_and_nothing_else_identifying(site, caplog):
    with caplog.at_level(logging.INFO, logger="participants.staff"):
        output = add_staff(
            "alice", "--email", "alice@example.org", "--role", "coordinator", "--site", "S01"
        )

    assert "alice" in caplog.text
    assert "alice@example.org" not in caplog.text
    assert one_time_password(output) not in caplog.text


def manage_py(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PYTEST_"))}
    env["DATABASE_URL"] = _database_url_for_subprocess()  # the test database
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


# Transactional: the command runs in another process, which must see the site and write.
@pytest.mark.django_db(transaction=True)
def test_on_the_command_line_a_refusal_is_a_message_and_success_prints_the_password(
    site, client, settings
):
    refused = manage_py("add_staff", "alice", "--email", "a@example.org", "--role", "nurse")

    assert refused.returncode == 1
    assert "--role: “nurse” is not a role" in refused.stderr
    assert "Traceback" not in refused.stderr

    added = manage_py(
        "add_staff", "alice", "--email", "a@example.org", "--role", "coordinator", "--site", "S01"
    )

    assert added.returncode == 0, added.stderr
    # The other process hashed with the production hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert client.login(
        request=HttpRequest(), username="alice", password=one_time_password(added.stdout)
    )
