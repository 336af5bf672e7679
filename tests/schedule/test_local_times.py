"""A site-local time that a daylight-saving change skips or repeats cannot name one instant: every
form refuses it under the time field, naming the clock change. A site's zone is a place's IANA
name, never the server's "localtime"."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from participants.models import validate_time_zone
from schedule.models import AssessmentStatus
from schedule.windows import local_time_problem
from tests.support import consent, frozen, visit

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("tz", "day", "time", "expected"),
    [
        (NEW_YORK, dt.date(2026, 3, 8), dt.time(2, 30), "does not exist"),
        (NEW_YORK, dt.date(2026, 3, 8), dt.time(1, 59), ""),
        (NEW_YORK, dt.date(2026, 3, 8), dt.time(3, 0), ""),
        (NEW_YORK, dt.date(2026, 11, 1), dt.time(1, 30), "happens twice"),
        (NEW_YORK, dt.date(2026, 11, 1), dt.time(2, 0), ""),
        (BERLIN, dt.date(2026, 3, 29), dt.time(2, 15), "does not exist"),
        (BERLIN, dt.date(2026, 10, 25), dt.time(2, 45), "happens twice"),
        (BERLIN, dt.date(2026, 10, 25), dt.time(3, 0), ""),
    ],
)
def test_a_time_the_clock_change_skips_or_repeats_is_named_and_others_pass(tz, day, time, expected):
    problem = local_time_problem(day, time, tz)
    if expected:
        assert expected in problem and tz.key in problem
    else:
        assert problem == ""


def test_the_assessment_form_refuses_0230_on_the_spring_change_under_the_time(
    client, coordinator, site, protocol
):
    with frozen(dt.datetime(2026, 3, 10, 15, tzinfo=dt.UTC)):
        p = consent(site, coordinator, dt.date(2026, 3, 2))
        chem = visit(p, "SCR").assessments.get(definition__code="CHEM")
        client.force_login(coordinator)
        page = client.post(
            reverse("dashboard:assessment_record", args=[chem.pk]),
            {"result": "normal", "completed_on": "2026-03-08", "completed_time": "02:30"},
        ).content.decode()
    error = re.search(r'id="id_completed_time_error">([^<]*)<', page)
    assert error and "does not exist" in error.group(1)
    chem.refresh_from_db()
    assert chem.status == AssessmentStatus.PENDING


@pytest.mark.parametrize("name", ["localtime", "UTC", "Etc/GMT+5", "EST", "Mars/Olympus_Mons"])
def test_a_site_time_zone_must_be_a_places_iana_name(name):
    with pytest.raises(ValidationError):
        validate_time_zone(name)


def test_a_places_iana_name_is_accepted():
    validate_time_zone("Europe/Berlin")
    validate_time_zone("America/New_York")
