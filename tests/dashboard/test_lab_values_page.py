"""A lab panel (CBC, IgG) is recorded on its page as values with units: the grade and "abnormal"
are computed and shown with why; there is no typed result or checkbox to get wrong."""

import html as html_module
import re

import pytest
from django.urls import reverse

from schedule.models import AssessmentStatus
from tests.support import TODAY, consent, frozen, visit

CBC_NORMAL = {
    "ANC_value": "3.2",
    "ANC_unit": "10^9/L",
    "LYMPH_value": "1500",
    "LYMPH_unit": "/mm3",
    "PLT_value": "45",
    "PLT_unit": "10^9/L",
    "HGB_value": "13.1",
    "HGB_unit": "g/dL",
    "WBC_value": "6.0",
    "WBC_unit": "10^9/L",
    "completed_on": TODAY.isoformat(),
    "completed_time": "09:30",
}


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return html_module.unescape(match.group(1)) if match else ""


@pytest.fixture
def cbc(protocol, site, coordinator):
    with frozen():
        p = consent(site, coordinator, TODAY, hour=9)
    return visit(p, "SCR").assessments.get(definition__code="CBC")


def url(a):
    return reverse("dashboard:assessment_record", args=[a.pk])


def test_the_cbc_page_asks_for_each_value_with_its_unit_and_no_abnormal_checkbox(
    client, coordinator, cbc
):
    client.force_login(coordinator)
    with frozen():
        page = client.get(url(cbc)).content.decode()
    assert 'name="ANC_value"' in page and 'name="ANC_unit"' in page
    assert 'name="is_abnormal"' not in page and 'name="result"' not in page


def test_values_are_graded_and_the_page_shows_the_grade_and_why(client, coordinator, cbc):
    client.force_login(coordinator)
    with frozen():
        response = client.post(url(cbc), CBC_NORMAL)
        assert response.status_code == 302
        page = client.get(url(cbc)).content.decode()
    cbc.refresh_from_db()
    assert cbc.status == AssessmentStatus.DONE
    # Platelets 45 x10^9/L is CTCAE grade 3 (< 50): computed, blocks an infusion.
    assert cbc.is_abnormal is True
    platelets = cbc.lab_results.get(code="PLT")
    assert platelets.grade == 3
    lymphocytes = cbc.lab_results.get(code="LYMPH")
    assert str(lymphocytes.value.normalize()) == "1.5" and lymphocytes.unit == "10^9/L"
    assert "PLT" in page and "grade 3" in page


def test_a_unit_that_does_not_fit_the_test_is_shown_under_it_and_nothing_is_saved(
    client, coordinator, cbc
):
    client.force_login(coordinator)
    with frozen():
        page = client.post(url(cbc), {**CBC_NORMAL, "HGB_unit": "mg/dL"}).content.decode()
    assert field_error(page, "HGB_unit")
    cbc.refresh_from_db()
    assert cbc.status == AssessmentStatus.PENDING
    assert not cbc.lab_results.exists()
