"""The dates that matter clinically: window edges, due instants in the site's time zone, late-evening
infusions, leap days and same-day withdrawal."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from participants.models import Status
from schedule import services
from schedule.models import AssessmentStatus, VisitDefinition, VisitStatus
from tests.support import (
    D0,
    Journey,
    consent,
    coordinator_at,
    days,
    local,
    make_user,
    open_visit_codes,
)

UTC = dt.UTC


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


# --- Window edges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "edge", "shift", "in_window"),
    [
        ("M3", "window_end", 0, True),  # the last window day is in window
        ("M3", "window_end", 1, False),  # the day after is not
        ("M3", "window_start", 0, True),
        ("M3", "window_start", -1, False),
        ("EOT", "window_end", 0, True),
        ("EOT", "window_end", 1, False),
    ],
)
def test_visit_on_the_last_window_day_is_in_window_and_the_day_after_is_not(
    journey, code, edge, shift, in_window
):
    journey.all_infusions()
    visit = journey.visit(code)
    day = getattr(visit, edge) + days(shift)
    journey.record(code, day)
    visit = journey.visit(code)
    assert (visit.status, visit.actual_date, visit.in_window) == (VisitStatus.DONE, day, in_window)


def test_m3_window_is_day_83_to_day_97(journey):
    journey.all_infusions()
    m3 = journey.visit("M3")
    assert (m3.window_start, m3.target_date, m3.window_end) == (
        D0 + days(83),
        D0 + days(90),
        D0 + days(97),
    )


# --- Due instants in the site's time zone --------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "consent_on", "due_utc"),
    [
        # SCR's window is Day 0 to +14 from consent; its items are due when the window has closed.
        ("America/New_York", dt.date(2026, 1, 5), dt.datetime(2026, 1, 20, 5, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 1, 5), dt.datetime(2026, 1, 19, 23, tzinfo=UTC)),
        # New York springs forward on Sun 8 Mar 2026 (02:00 EST -> 03:00 EDT).
        ("America/New_York", dt.date(2026, 2, 21), dt.datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 2, 22), dt.datetime(2026, 3, 9, 4, tzinfo=UTC)),
        # ... and falls back on Sun 1 Nov 2026.
        ("America/New_York", dt.date(2026, 10, 17), dt.datetime(2026, 11, 1, 4, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 10, 18), dt.datetime(2026, 11, 2, 5, tzinfo=UTC)),
        # Berlin springs forward on Sun 29 Mar 2026 and falls back on Sun 25 Oct 2026.
        ("Europe/Berlin", dt.date(2026, 3, 14), dt.datetime(2026, 3, 28, 23, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 3, 15), dt.datetime(2026, 3, 29, 22, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 10, 10), dt.datetime(2026, 10, 24, 22, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 10, 11), dt.datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ],
)
def test_assessment_is_due_at_the_start_of_the_day_after_the_window_in_site_time(
    protocol, site, site2, coordinator, tz, consent_on, due_utc
):
    where = site if tz == site.time_zone else site2
    with time_machine.travel(local(consent_on, 12, tz), tick=False):
        p = consent(where, coordinator if where == site else coordinator_at(site2), consent_on)
    scr = p.visits.get(definition__code="SCR")
    assert scr.window_end == consent_on + days(14)
    due = set(scr.assessments.values_list("due_at", flat=True))
    assert due == {due_utc}


def test_post_dose_items_are_due_hours_after_the_infusion_started(journey):
    journey.to_treatment()
    inf1 = journey.visit("INF1")
    started = journey.at(D0, 9)
    assert inf1.started_at == started
    by_code = {a.definition.code: a for a in inf1.assessments.select_related("definition")}
    for code in ("VS_POST", "CRS_ICANS", "OBS"):
        assert by_code[code].due_at == started + dt.timedelta(hours=4), code
    # The rest of the visit is due when INF1's one-day window has closed (midnight New York).
    assert by_code["AE"].due_at == dt.datetime(2026, 2, 21, 5, tzinfo=UTC)


# --- The local day of an instant ----------------------------------------------------------------


def test_infusion_at_2330_new_york_counts_as_d0_though_it_is_the_next_day_in_utc(journey):
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    journey.infuse(1, D0, hour=23, minute=30)
    p = journey.refresh()
    assert p.first_infusion_at == dt.datetime(2026, 2, 21, 4, 30, tzinfo=UTC)
    assert p.first_infusion_at.astimezone(UTC).date() == D0 + days(1)
    assert (p.status, p.first_infusion_date, p.schedule.infusion_anchor) == (
        Status.IN_TREATMENT,
        D0,
        D0,
    )
    assert not p.reanchors.exists()
    inf1 = journey.visit("INF1")
    assert (inf1.actual_date, inf1.in_window) == (D0, True)
    assert journey.visit("INF2").target_date == D0 + days(7)
    assert p.status_changes.last().effective_on == D0


def test_infusion_at_0030_berlin_counts_as_d0_though_it_is_the_day_before_in_utc(
    protocol, site2, coordinator
):
    investigator = make_user("invest-berlin", "investigator", [site2])
    journey = Journey(site2, coordinator_at(site2), investigator)
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis()
    journey.infuse(1, D0, hour=0, minute=30)
    p = journey.refresh()
    assert p.first_infusion_at == dt.datetime(2026, 2, 19, 23, 30, tzinfo=UTC)
    assert (p.first_infusion_date, p.schedule.infusion_anchor) == (D0, D0)
    assert not p.reanchors.exists()


def test_consent_late_in_the_evening_is_dated_in_site_time(protocol, site, coordinator):
    with time_machine.travel(dt.datetime(2026, 1, 6, 5, tzinfo=UTC), tick=False):
        p = consent(site, coordinator, dt.date(2026, 1, 5), hour=23)  # 04:00 UTC on 6 Jan
    assert p.consent_date == dt.date(2026, 1, 5)
    assert p.schedule.consent_anchor == dt.date(2026, 1, 5)
    assert p.visits.get(definition__code="SCR").target_date == dt.date(2026, 1, 5)
    assert p.status_changes.get().effective_on == dt.date(2026, 1, 5)


# --- Leap day ----------------------------------------------------------------------------------


def test_leap_day_d0_gives_m12_on_28_february_of_the_next_year(
    protocol, site, coordinator, investigator
):
    leap_d0 = dt.date(2028, 2, 29)
    journey = Journey(site, coordinator, investigator, consent_on=dt.date(2028, 1, 10))
    journey.enroll(dt.date(2028, 1, 17))
    journey.plan(leap_d0, today=dt.date(2028, 1, 17))
    journey.apheresis(dt.date(2028, 2, 10))
    journey.infuse(1, leap_d0)
    m12 = journey.visit("M12")
    # M12 is 365 offset days after D0, not "12 calendar months" (which would be 28 Feb or 1 Mar).
    assert m12.definition.target_offset == 365
    assert (
        "Days after the anchor date" in VisitDefinition._meta.get_field("target_offset").help_text
    )
    assert (m12.window_start, m12.target_date, m12.window_end) == (
        dt.date(2029, 2, 14),
        dt.date(2029, 2, 28),
        dt.date(2029, 3, 14),
    )
    assert journey.visit("INF2").target_date == dt.date(2028, 3, 7)
    assert journey.visit("M6").target_date == dt.date(2028, 8, 27)  # 180 days, not 29 Aug


def test_first_infusion_a_week_before_the_leap_day_puts_inf2_on_it(
    protocol, site, coordinator, investigator
):
    journey = Journey(site, coordinator, investigator, consent_on=dt.date(2028, 1, 10))
    journey.enroll(dt.date(2028, 1, 17))
    journey.plan(dt.date(2028, 2, 22), today=dt.date(2028, 1, 17))
    inf2 = journey.visit("INF2")
    assert (inf2.window_start, inf2.target_date, inf2.window_end) == (
        dt.date(2028, 2, 27),
        dt.date(2028, 2, 29),
        dt.date(2028, 3, 2),
    )


# --- Withdrawal on the first infusion day --------------------------------------------------------


def test_withdrawal_on_the_first_infusion_day(journey, coordinator):
    journey.to_treatment()
    with journey.on(D0, hour=20):
        services.participant_withdraw(
            journey.p,
            on=D0,
            reason="severe infusion reaction, withdrew consent",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    p = journey.refresh()
    assert (p.status, p.off_study_on, p.infusions_received) == (Status.WITHDRAWN, D0, 1)
    assert journey.visit("INF1").status == VisitStatus.DONE
    assert open_visit_codes(p) == ["ET"]
    et = journey.visit("ET")
    assert (et.target_date, et.window_start, et.window_end) == (D0, D0, D0 + days(14))
    codes = set(et.assessments.values_list("definition__code", flat=True))
    assert "CRS_ICANS" in codes  # withdrawn during treatment
    assert set(journey.visit("INF2").assessments.values_list("status", flat=True)) == {
        AssessmentStatus.NOT_APPLICABLE
    }


def test_withdrawal_before_consent_is_refused(journey, coordinator):
    with journey.on(dt.date(2026, 1, 6)), pytest.raises(ValidationError, match="before consent"):
        services.participant_withdraw(
            journey.p,
            on=dt.date(2026, 1, 4),
            reason="x",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )
    assert journey.status() == Status.SCREENING
