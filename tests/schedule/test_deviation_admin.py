"""Deviations in the admin: read-only for everyone (participants.admin.ClinicalAdmin), per-site
scoped, never saved from the change form; the site changes them on the dashboard."""

import pytest
from django.urls import reverse

from participants.models import StaffRole
from participants.roles import group_for
from schedule.models import Deviation, DeviationStatus
from tests.support import CONSENT_ON, Journey, coordinator_at, days, make_user

LATE = CONSENT_ON + days(16)  # SCR's window closed on 19 Jan


def staff(username, role, sites=()):
    user = make_user(username, role, sites, is_staff=True)
    user.groups.add(group_for(role))
    return user


@pytest.fixture
def drafts(protocol, site, site2, investigator):
    """One out-of-window draft at each site."""
    Journey(site, coordinator_at(site), investigator).screening_visit(LATE)
    berlin = make_user("invest-s02", StaffRole.INVESTIGATOR, [site2])
    Journey(site2, coordinator_at(site2), berlin).screening_visit(LATE)
    return {
        d.participant.site.code: d for d in Deviation.objects.select_related("participant__site")
    }


def test_a_coordinator_reads_their_sites_deviations_and_not_the_other_sites(client, drafts, site):
    client.force_login(staff("admin-coord", StaffRole.COORDINATOR, [site]))

    listing = client.get(reverse("admin:schedule_deviation_changelist")).content.decode()
    own = client.get(reverse("admin:schedule_deviation_change", args=[drafts["S01"].pk]))
    other = client.get(reverse("admin:schedule_deviation_change", args=[drafts["S02"].pk]))

    assert drafts["S01"].participant.label in listing
    assert drafts["S02"].participant.label not in listing
    assert own.status_code == 200 and 'name="_save"' not in own.content.decode()
    assert other.status_code in (302, 404)


def test_the_change_form_is_never_saved(client, drafts, site):
    client.force_login(staff("admin-coord", StaffRole.COORDINATOR, [site]))
    deviation = drafts["S01"]

    response = client.post(
        reverse("admin:schedule_deviation_change", args=[deviation.pk]),
        {"status": "closed", "description": "typed in the admin"},
    )

    assert response.status_code == 403
    deviation.refresh_from_db()
    assert (deviation.status, deviation.description) == (DeviationStatus.DRAFT, "")


def test_a_study_manager_reads_every_sites_deviations(client, drafts):
    client.force_login(staff("admin-manager", StaffRole.STUDY_MANAGER))

    listing = client.get(reverse("admin:schedule_deviation_changelist")).content.decode()

    assert drafts["S01"].participant.label in listing
    assert drafts["S02"].participant.label in listing
