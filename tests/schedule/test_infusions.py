"""Infusions 2-6: order, spacing from the last infusion actually given, missed infusions."""

import pytest
from django.core.exceptions import ValidationError

from participants.models import Status
from schedule import services
from schedule.models import VisitStatus
from tests.support import D0, Journey, days


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.to_treatment()
    return j


def test_an_infusion_cannot_be_recorded_while_an_earlier_one_is_open(journey):
    with pytest.raises(ValidationError, match=r"Record INF2 \(given or missed\) before INF3"):
        journey.infuse(3, D0 + days(14))
    assert journey.visit("INF3").status == VisitStatus.SCHEDULED


def test_after_a_missed_infusion_the_next_counts_from_the_last_one_given(journey):
    with journey.on(D0 + days(9)):
        services.visit_mark_missed(journey.visit("INF2"), reason="febrile", by=journey.by)
    visit = journey.infuse(3, D0 + days(14))
    assert (visit.status, visit.in_window) == (VisitStatus.DONE, True)
    assert journey.refresh().infusions_received == 2


def test_spacing_after_a_missed_infusion_is_checked_against_the_last_given(journey):
    with journey.on(D0 + days(9)):
        services.visit_mark_missed(journey.visit("INF2"), reason="febrile", by=journey.by)
    journey.infuse(3, D0 + days(12))
    with journey.on(D0 + days(21)):
        services.visit_mark_missed(journey.visit("INF4"), reason="travel", by=journey.by)
    # INF5's window opens on D0+26; INF3 was given on D0+12, so spacing allows it.
    visit = journey.infuse(5, D0 + days(26))
    assert visit.status == VisitStatus.DONE


def test_the_sixth_infusion_moves_the_participant_to_follow_up(journey):
    for n in range(2, 7):
        journey.infuse(n, D0 + days(7 * (n - 1)))
    participant = journey.refresh()
    assert participant.status == Status.IN_FOLLOW_UP
    assert participant.infusions_received == 6
    assert participant.status_changes.last().details["stopped_early"] is False
