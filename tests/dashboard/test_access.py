"""Per-site access: every page, export and feed shows only the user's sites; another site's URL
is a 404; study managers and superusers see all sites; a user without a profile sees nothing."""

import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from dashboard.models import CalendarFeedToken
from participants.models import StaffRole
from tests.support import frozen, make_user, response_body, visit, worklist_scenario


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


def pages():
    return [
        reverse("dashboard:worklist"),
        reverse("dashboard:participants"),
        reverse("dashboard:calendar") + "?view=month&date=2026-02-01",
    ]


def test_login_is_required_for_every_page(client, data):
    berlin = data["berlin"]
    urls = pages() + [
        reverse("dashboard:participant", args=[berlin.pk]),
        reverse("dashboard:visit_done", args=[visit(berlin, "SCR").pk]),
        reverse("dashboard:feed_settings"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_login_page_and_admin_stay_where_they_were(client, db):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the admin's own login


def test_coordinator_sees_only_own_site_on_every_list(client, coordinator, data):
    client.force_login(coordinator)
    berlin = data["berlin"]
    with frozen():
        for url in pages():
            html = client.get(url).content.decode()
            assert data["late"].label in html, url
            assert berlin.label not in html, url
            for fmt in ("csv", "xlsx"):
                sep = "&" if "?" in url else "?"
                body = response_body(client.get(f"{url}{sep}_export={fmt}&_table=overdue_visits"))
                if fmt == "csv":
                    assert berlin.label.encode() not in body, url
                else:
                    # The workbook is zipped XML: read its cells, not its bytes.
                    cells = [
                        str(v)
                        for row in openpyxl.load_workbook(io.BytesIO(body)).active.values
                        for v in row
                        if v is not None
                    ]
                    assert cells, url
                    assert not [c for c in cells if berlin.label in c], url
                    assert [c for c in cells if data["late"].label in c], url


def test_xlsx_of_a_participant_page_is_refused_for_another_site(client, coordinator, data):
    client.force_login(coordinator)
    berlin = data["berlin"]
    with frozen():
        for table in ("timeline", "history"):
            url = reverse("dashboard:participant", args=[berlin.pk])
            assert client.get(f"{url}?_export=xlsx&_table={table}").status_code == 404


def test_guessing_another_sites_urls_gives_404(client, coordinator, data):
    client.force_login(coordinator)
    berlin = data["berlin"]
    scr = visit(berlin, "SCR")
    urls = [
        reverse("dashboard:participant", args=[berlin.pk]),
        reverse("dashboard:participant", args=[berlin.pk]) + "?_export=csv",
        reverse("dashboard:participant_action", args=[berlin.pk, "withdraw"]),
        reverse("dashboard:visit_done", args=[scr.pk]),
        reverse("dashboard:visit_missed", args=[scr.pk]),
        reverse("dashboard:assessment_record", args=[scr.assessments.first().pk]),
        reverse("dashboard:calendar") + "?site=S02",
    ]
    with frozen():
        for url in urls:
            assert client.get(url).status_code == 404, url
        response = client.post(
            reverse("dashboard:visit_missed", args=[scr.pk]), {"reason": "guessing"}
        )
        assert response.status_code == 404
    scr.refresh_from_db()
    assert scr.status == "scheduled"


def test_participant_filter_cannot_pick_another_site(client, coordinator, data):
    client.force_login(coordinator)
    with frozen():
        response = client.get(reverse("dashboard:participants") + "?site=S02&_export=csv")
    body = response_body(response)
    assert data["berlin"].label.encode() not in body
    assert data["late"].label.encode() not in body  # an invalid filter shows nothing


def test_feed_of_a_coordinator_holds_only_own_site(client, coordinator, data):
    token = CalendarFeedToken.objects.create(user=coordinator)
    with frozen():
        body = client.get(reverse("dashboard:feed", args=[token.key])).content.decode()
    assert data["late"].label in body
    assert data["berlin"].label not in body


@pytest.mark.parametrize("who", ["manager", "superuser"])
def test_study_manager_and_superuser_see_all_sites(client, data, manager, who):
    user = manager
    if who == "superuser":
        user = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(user)
    with frozen():
        html = client.get(reverse("dashboard:participants")).content.decode()
        assert data["berlin"].label in html and data["late"].label in html
        assert (
            client.get(reverse("dashboard:participant", args=[data["berlin"].pk])).status_code
            == 200
        )


def test_user_without_profile_sees_nothing(client, data):
    user = get_user_model().objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)
    with frozen():
        for url in pages():
            response = client.get(url)
            assert response.status_code == 200
            assert data["late"].label not in response.content.decode(), url
        assert (
            client.get(reverse("dashboard:participant", args=[data["late"].pk])).status_code == 404
        )


def test_investigator_of_two_sites_sees_both(client, site, site2, data):
    both = make_user("inv2", StaffRole.INVESTIGATOR, [site, site2])
    client.force_login(both)
    with frozen():
        html = client.get(reverse("dashboard:participants")).content.decode()
    assert data["berlin"].label in html and data["late"].label in html


def test_a_coordinators_reads_name_their_sites_read_once_per_user_not_a_staff_join(
    data, coordinator
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from participants import access
    from participants.models import Participant
    from schedule.models import Visit

    reader = get_user_model().objects.get(pk=coordinator.pk)  # nothing cached on the user
    with CaptureQueriesContext(connection) as reads:
        participants = list(access.visible(reader, Participant))
        visits = list(access.visible(reader, Visit))
    # The staff profile, the user's sites, then one query per read: the sites are asked once.
    assert len(reads.captured_queries) == 4
    for read in reads.captured_queries[2:]:
        assert "staffprofile" not in read["sql"]
    assert participants and {p.site.code for p in participants} == {"S01"}
    assert visits and {v.site.code for v in visits} == {"S01"}
