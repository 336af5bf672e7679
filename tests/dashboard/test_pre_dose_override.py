"""The pre-dose gate's override on the dashboard: an investigator of the site gives an infusion the
tracker refuses, with a written reason; the override shows on the timeline and in its export. A
coordinator is never offered the field."""

import csv
import io

import pytest
from django.urls import reverse

from schedule.models import PreDoseOverride, VisitStatus
from tests.support import D0, Journey, days, record_pre_dose

INF2_DAY = D0 + days(7)


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.to_treatment()
    # Every pre-dose item of INF2 but the chemistry panel, recorded on the infusion morning.
    with j.on(INF2_DAY, hour=8):
        record_pre_dose(j.visit("INF2"), j.at(INF2_DAY, 7, 30), j.by)
        chem = j.visit("INF2").assessments.get(definition__code="CHEM")
        chem.status, chem.result, chem.completed_at = "pending", "", None
        chem.save()
    return j


def _post(client, journey, user, **extra):
    client.force_login(user)
    form = {
        "actual_date": INF2_DAY.isoformat(),
        "started_time": "09:00",
        "dose": "1e6 cells/kg",
        "lot": "L-2",
        **extra,
    }
    with journey.on(INF2_DAY, hour=12):
        url = reverse("dashboard:visit_done", args=[journey.visit("INF2").pk])
        return client.get(url).content.decode(), client.post(url, form)


def test_a_coordinator_is_refused_with_every_reason_and_not_offered_an_override(client, journey):
    page, response = _post(client, journey, journey.by)
    assert 'name="override_reason"' not in page
    assert response.status_code == 200
    assert "CHEM not recorded" in response.content.decode()
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED


def test_an_investigator_gives_it_over_the_gate_and_the_timeline_and_export_show_it(
    client, journey
):
    reason = "Chemistry drawn, result pending at the lab; discussed with the medical monitor"
    page, response = _post(client, journey, journey.investigator, override_reason=reason)
    assert 'name="override_reason"' in page
    assert response.status_code == 302
    visit = journey.visit("INF2")
    assert visit.status == VisitStatus.DONE
    assert PreDoseOverride.objects.get(visit=visit).problems == ["CHEM not recorded"]
    with journey.on(INF2_DAY, hour=13):
        url = reverse("dashboard:participant", args=[journey.p.pk])
        timeline = client.get(url).content.decode()
        export = client.get(url, {"_export": "csv"}).content.decode()
    assert "given over the pre-dose gate" in timeline and reason in timeline
    rows = [row for row in csv.reader(io.StringIO(export)) if row and row[0].startswith("INF2")]
    assert any(
        f"given over the pre-dose gate by {journey.investigator.username}" in c for c in rows[0]
    )
