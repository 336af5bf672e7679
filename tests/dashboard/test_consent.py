"""Register consent (/participants/new/): a coordinator starts a screening at one of their own
sites from the dashboard; bad input is explained next to its field and nothing is saved; roles
that only read cannot register."""

import re

import pytest
from django.urls import reverse

from participants.models import Participant, StaffRole, Status
from tests.support import frozen, make_user

URL = "/participants/new/"


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


def good(site, **changes):
    data = {
        "site": site.pk,
        "consent_on": "2026-03-10",
        "consent_time": "09:30",
        "consent_form_version": "ICF v2.0",
        "age_at_consent": "42",
        "screening_number": "",
    }
    data.update(changes)
    return data


def test_url_and_link_for_coordinators(client, protocol, coordinator):
    assert reverse("dashboard:participant_new") == URL
    client.force_login(coordinator)
    with frozen():
        listing = client.get(reverse("dashboard:participants")).content.decode()
        form = client.get(URL)
    assert f'href="{URL}"' in listing and "Register consent" in listing
    assert form.status_code == 200
    assert 'name="consent_on"' in form.content.decode()


def test_coordinator_registers_consent(client, protocol, site, coordinator):
    client.force_login(coordinator)
    with frozen():
        response = client.post(URL, good(site))
    p = Participant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:participant", args=[p.pk])
    assert p.site == site and p.status == Status.SCREENING
    assert p.consent_date.isoformat() == "2026-03-10"
    assert p.age_at_consent == 42
    codes = set(p.visits.values_list("definition__code", flat=True))
    assert {"SCR", "APH"} <= codes
    assert p.status_changes.get().changed_by == coordinator


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("age_at_consent", "17", "18 or older"),
        ("consent_on", "2026-03-11", "in the future"),
        ("consent_on", "2026-02-30", "real calendar date"),
        ("consent_form_version", "", "required"),
    ],
)
def test_bad_input_is_explained_next_to_the_field(
    client, protocol, site, coordinator, field, value, message
):
    client.force_login(coordinator)
    with frozen():
        response = client.post(URL, good(site, **{field: value}))
    assert response.status_code == 200
    assert message in field_error(response.content.decode(), field)
    assert not Participant.objects.exists()


def test_coordinator_cannot_pick_another_site(client, protocol, site, site2, coordinator):
    client.force_login(coordinator)
    with frozen():
        html = client.get(URL).content.decode()
        response = client.post(URL, good(site2))
    assert "S02" not in html
    assert "your own sites" in field_error(response.content.decode(), "site")
    assert not Participant.objects.exists()


@pytest.mark.parametrize("role", [StaffRole.STUDY_MANAGER, StaffRole.MEDICAL_MONITOR])
def test_read_only_roles_cannot_register(client, protocol, site, role):
    client.force_login(make_user("reader", role, is_staff=True))
    with frozen():
        listing = client.get(reverse("dashboard:participants")).content.decode()
        assert client.get(URL).status_code == 403
        response = client.post(URL, good(site))
    assert response.status_code == 403
    assert URL not in listing
    assert not Participant.objects.exists()
