"""Assessment "not done / not applicable" from the dashboard's assessment page: a reason is
required, "not applicable" only where the protocol allows it (a pregnancy test for a man), errors
show next to their field and nothing is saved; the reason shows on the participant's timeline."""

import html as html_module
import re

import pytest
from django.urls import reverse

from participants.models import StaffRole
from schedule.models import AssessmentStatus
from tests.support import TODAY, consent, frozen, make_user, visit


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return html_module.unescape(match.group(1)) if match else ""


@pytest.fixture
def scr(protocol, site, coordinator):
    with frozen():
        p = consent(site, coordinator, TODAY, hour=9)
    return visit(p, "SCR")


def item(v, code):
    return v.assessments.select_related("definition").get(definition__code=code)


def url(a):
    return reverse("dashboard:assessment_record", args=[a.pk])


def test_page_offers_the_not_done_form(client, coordinator, scr):
    client.force_login(coordinator)
    with frozen():
        html = client.get(url(item(scr, "PREG"))).content.decode()
    assert "Not done / not applicable" in html
    assert 'name="reason"' in html and 'name="not_applicable"' in html
    assert "pregnancy test for a man" in html
    assert 'name="result"' in html  # the result form is still there


def test_pregnancy_test_not_applicable_with_reason_on_the_timeline(client, coordinator, scr):
    client.force_login(coordinator)
    preg = item(scr, "PREG")
    with frozen():
        response = client.post(
            url(preg), {"not_done": "1", "reason": "Male participant", "not_applicable": "on"}
        )
        assert response.status_code == 302
        page = client.get(reverse("dashboard:participant", args=[scr.participant_id]))
    preg.refresh_from_db()
    assert preg.status == AssessmentStatus.NOT_APPLICABLE
    assert preg.reason == "Male participant" and preg.recorded_by == coordinator
    chip = re.search(
        r'<span class="chip chip-not_applicable" title="([^"]*)">PREG', page.content.decode()
    )
    assert chip and "Male participant" in html_module.unescape(chip.group(1))


def test_not_done_is_recorded_as_missed(client, coordinator, scr):
    client.force_login(coordinator)
    a = item(scr, "VS")
    with frozen():
        response = client.post(url(a), {"not_done": "1", "reason": "Sample haemolysed"})
        assert response.status_code == 302
        export = client.get(
            reverse("dashboard:participant", args=[scr.participant_id]) + "?_export=csv"
        )
    a.refresh_from_db()
    assert a.status == AssessmentStatus.MISSED and a.reason == "Sample haemolysed"
    assert "Sample haemolysed" in export.content.decode()


@pytest.mark.parametrize(
    "code, post, field, message",
    [
        ("PREG", {"reason": "", "not_applicable": "on"}, "reason", "Give the reason"),
        ("PREG", {"reason": "   "}, "reason", "Give the reason"),
        ("VS", {"reason": "Man", "not_applicable": "on"}, "not_applicable", "does not allow VS"),
    ],
)
def test_bad_input_is_explained_and_nothing_saved(
    client, coordinator, scr, code, post, field, message
):
    client.force_login(coordinator)
    a = item(scr, code)
    with frozen():
        response = client.post(url(a), {"not_done": "1", **post})
    assert response.status_code == 200
    assert message in field_error(response.content.decode(), field)
    a.refresh_from_db()
    assert a.status == AssessmentStatus.PENDING and a.reason == ""


def test_a_done_assessment_cannot_become_not_done(client, coordinator, scr):
    client.force_login(coordinator)
    a = item(scr, "PREG")
    with frozen():
        client.post(
            url(a), {"result": "Negative", "completed_on": "2026-03-10", "completed_time": "10:00"}
        )
        a.refresh_from_db()
        assert a.status == AssessmentStatus.DONE
        assert "Not done / not applicable" not in client.get(url(a)).content.decode()
        response = client.post(url(a), {"not_done": "1", "reason": "Changed my mind"})
    assert response.status_code == 200
    assert "only a pending assessment" in response.content.decode()
    a.refresh_from_db()
    assert a.status == AssessmentStatus.DONE and a.reason == ""


def test_monitor_cannot_record_not_done(client, scr):
    client.force_login(make_user("monitor", StaffRole.MEDICAL_MONITOR, is_staff=True))
    a = item(scr, "PREG")
    with frozen():
        response = client.post(url(a), {"not_done": "1", "reason": "Male participant"})
    assert response.status_code == 403
    a.refresh_from_db()
    assert a.status == AssessmentStatus.PENDING
