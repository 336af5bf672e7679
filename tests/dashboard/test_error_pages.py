"""The 404 and 403 pages: in the tracker's layout with its navigation and a way back, the same for
the dashboard and the admin (another site's record is no record at all); read-only admin pages
offer no Save button."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from participants.models import StaffRole
from participants.roles import group_for
from tests.support import frozen, make_user, visit, worklist_scenario

NAV = '<nav aria-label="Main">'


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def test_another_sites_participant_is_a_styled_404_with_a_way_back(client, coordinator, data):
    client.force_login(coordinator)
    url = reverse("dashboard:participant", args=[data["berlin"].pk])
    with frozen():
        came_from = client.get(url, HTTP_REFERER="http://testserver/participants/")
        from_elsewhere = client.get(url, HTTP_REFERER="https://evil.example/")
    assert came_from.status_code == 404
    html = came_from.content.decode()
    assert "No such page or record" in html and NAV in html
    assert '<a class="button" href="http://testserver/participants/">Go back</a>' in html
    # A page of another host is no way back: the worklist instead.
    assert '<a class="button" href="/">Go back</a>' in from_elsewhere.content.decode()


def test_the_admin_answers_another_sites_record_with_the_same_404(client, coordinator, data):
    coordinator.is_staff = True
    coordinator.save()
    coordinator.groups.add(group_for(StaffRole.COORDINATOR))
    client.force_login(coordinator)
    berlin_scr = visit(data["berlin"], "SCR")
    own_scr = visit(data["late"], "SCR")
    with frozen():
        for name in ("admin:schedule_visit_change", "admin:schedule_visit_history"):
            response = client.get(reverse(name, args=[berlin_scr.pk]))
            assert response.status_code == 404, name
            assert "No such page or record" in response.content.decode()
        assert client.get(reverse("admin:schedule_visit_change", args=[own_scr.pk])).status_code
    assert not LogEntry.objects.exists()


def test_the_403_page_has_the_navigation_and_a_way_back(client, data):
    manager = make_user("mgr", StaffRole.STUDY_MANAGER)
    client.force_login(manager)
    late = visit(data["late"], "SCR")
    with frozen():
        response = client.get(
            reverse("dashboard:visit_done", args=[late.pk]), HTTP_REFERER="http://testserver/"
        )
    html = response.content.decode()
    assert response.status_code == 403
    assert NAV in html and "You cannot record this" in html and ">Go back</a>" in html


@pytest.mark.parametrize("role", [StaffRole.STUDY_MANAGER, StaffRole.COORDINATOR])
def test_read_only_admin_pages_offer_no_save_button(client, data, site, role):
    user = make_user(f"walk-{role}", role, [site], is_staff=True)
    user.groups.add(group_for(role))
    client.force_login(user)
    late = data["late"]
    pages = [
        reverse("admin:participants_participant_change", args=[late.pk]),
        reverse("admin:schedule_visit_change", args=[visit(late, "SCR").pk]),
        reverse("admin:participants_site_change", args=[site.pk]),
    ]
    with frozen():
        for url in pages:
            response = client.get(url)
            html = response.content.decode()
            assert response.status_code == 200, url
            assert 'name="_save"' not in html and 'name="_continue"' not in html, url
            assert "dashboard/admin-readable.css" in html  # the "?" icon reads as a dash
