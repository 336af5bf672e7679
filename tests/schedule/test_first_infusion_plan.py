"""Planning D0: warnings when the gap from leukapheresis is outside the planned 14-21 days."""

import pytest

from tests.support import APHERESIS_ON, D0, Journey, days


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.enroll()
    j.plan(D0)
    j.apheresis()
    return j


@pytest.mark.parametrize(
    "gap, warned",
    [(13, True), (14, False), (21, False), (28, False), (29, True)],
)
def test_gap_from_leukapheresis_outside_plan_is_warned(journey, gap, warned):
    warnings = journey.plan(APHERESIS_ON + days(gap), today=APHERESIS_ON, reason="rescheduled")
    assert bool(warnings) is warned
    if warned:
        assert f"{gap} days after the leukapheresis" in warnings[0]


def test_first_infusion_on_the_consent_day_is_refused(protocol, site, coordinator, investigator):
    from django.core.exceptions import ValidationError

    j = Journey(site, coordinator, investigator)
    j.enroll()
    with pytest.raises(ValidationError, match="must come after the consent date"):
        j.plan(j.p.consent_date)
