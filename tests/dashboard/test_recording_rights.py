"""Seeing is not recording: study managers and medical monitors read every site but cannot record
anything through the dashboard (403, nothing saved, no buttons); coordinators and investigators
record at their own sites only; another site's object stays a 404."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from participants.access import can_record, recordable_sites, records_where_visible
from participants.models import Participant, StaffRole, Status, StatusChange
from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus
from tests.support import frozen, make_user, visit, worklist_scenario


@pytest.fixture
def data(protocol, site, site2, coordinator, investigator):
    with frozen():
        yield worklist_scenario(site, site2, coordinator, investigator)


@pytest.fixture
def monitor(db):
    return make_user("monitor", StaffRole.MEDICAL_MONITOR, is_staff=True)


def snapshot():
    """Everything a write could change."""
    return (
        list(Participant.objects.order_by("pk").values_list("pk", "status")),
        StatusChange.objects.count(),
        list(Visit.objects.order_by("pk").values_list("pk", "status", "actual_date", "reason")),
        list(Assessment.objects.order_by("pk").values_list("pk", "status", "result")),
    )


def writes(p):
    """One POST of each write view of the dashboard, on participant `p`, each a valid entry."""
    scr = visit(p, "SCR")
    assessment = scr.assessments.filter(status=AssessmentStatus.PENDING).first()
    return [
        (
            reverse("dashboard:participant_action", args=[p.pk, "withdraw"]),
            {
                "on": "2026-03-10",
                "reason_code": "other",
                "reason": "Moved away",
                "safety_follow_up_continues": "no",
            },
        ),
        (
            reverse("dashboard:participant_action", args=[p.pk, "unscheduled-visit"]),
            {"on": "2026-03-10", "reason": "Rash"},
        ),
        (reverse("dashboard:visit_done", args=[scr.pk]), {"actual_date": "2026-03-10"}),
        (reverse("dashboard:visit_missed", args=[scr.pk]), {"reason": "Did not come"}),
        (
            reverse("dashboard:assessment_record", args=[assessment.pk]),
            {"result": "normal", "completed_on": "2026-03-10", "completed_time": "09:00"},
        ),
    ]


def test_roles_that_record(site, site2, coordinator, investigator, manager, monitor):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    nobody = get_user_model().objects.create_user("nobody", password="pw")
    assert can_record(coordinator, site) and can_record(investigator, site)
    assert not can_record(coordinator, site2)
    assert can_record(root, site2)
    for user in (manager, monitor, nobody):
        assert not can_record(user, site), user
        assert not records_where_visible(user), user
        assert not recordable_sites(user).exists(), user
    assert list(recordable_sites(coordinator)) == [site]
    coordinator.is_active = False
    assert not can_record(coordinator, site)


@pytest.mark.parametrize("who", ["monitor", "manager"])
def test_read_only_roles_get_403_and_nothing_changes(client, data, manager, monitor, who):
    client.force_login({"monitor": monitor, "manager": manager}[who])
    before = snapshot()
    with frozen():
        for p in (data["berlin"], data["due"]):
            for url, post in writes(p):
                assert client.get(url).status_code == 403, url
                response = client.post(url, post)
                assert response.status_code == 403, url
                assert "cannot record" in response.content.decode(), url
    assert snapshot() == before
    assert Participant.objects.get(pk=data["berlin"].pk).status == Status.SCREENING


@pytest.mark.parametrize("who", ["monitor", "manager"])
def test_read_only_roles_see_no_buttons(client, data, manager, monitor, who):
    client.force_login({"monitor": monitor, "manager": manager}[who])
    p = data["late"]
    with frozen():
        page = client.get(reverse("dashboard:participant", args=[p.pk])).content.decode()
        worklist = client.get(reverse("dashboard:worklist")).content.decode()
        listing = client.get(reverse("dashboard:participants")).content.decode()
    assert p.label in page and p.label in worklist  # they still see everything
    for html in (page, worklist):
        assert "/done/" not in html and "/missed/" not in html
        assert "/record/" not in html
    assert reverse("dashboard:participant_action", args=[p.pk, "withdraw"]) not in page
    assert "chip-overdue" in page  # the chips are still shown, just not as links
    assert reverse("dashboard:participant_new") not in listing


def test_coordinator_records_at_own_site(client, data, coordinator):
    client.force_login(coordinator)
    late, due = data["late"], data["due"]
    with frozen():
        page = client.get(reverse("dashboard:participant", args=[late.pk])).content.decode()
        assert reverse("dashboard:participant_action", args=[late.pk, "withdraw"]) in page
        assert reverse("dashboard:visit_done", args=[visit(late, "SCR").pk]) in page
        withdraw, done = writes(late)[0], writes(due)[2]
        for url, post in (withdraw, done):
            response = client.post(url, post)
            assert response.status_code == 302, (url, response.content.decode()[:2000])
    late.refresh_from_db()
    assert late.status == Status.WITHDRAWN
    assert visit(due, "SCR").status == VisitStatus.DONE


def test_investigator_records_at_own_site(client, data, investigator):
    client.force_login(investigator)
    p = data["due"]
    scr = visit(p, "SCR")
    with frozen():
        response = client.post(
            reverse("dashboard:visit_done", args=[scr.pk]), {"actual_date": "2026-03-10"}
        )
    assert response.status_code == 302
    scr.refresh_from_db()
    assert scr.status == VisitStatus.DONE


def test_coordinator_posting_to_another_sites_object_gets_404(client, data, coordinator):
    client.force_login(coordinator)
    before = snapshot()
    with frozen():
        for url, post in writes(data["berlin"]):
            assert client.post(url, post).status_code == 404, url
    assert snapshot() == before
