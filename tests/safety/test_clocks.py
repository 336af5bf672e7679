"""The SAE clocks at their edges: 24 real hours to the sponsor across every 2026 daylight-saving change
in New York and Berlin, IRB business days across weekends and holidays, and the state of a clock."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from safety.clocks import (
    ClockError,
    ClockState,
    clock_state,
    end_of_local_day,
    irb_report_due,
    sponsor_report_due,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)


def local(tz, *fields, fold=0):
    return datetime(*fields, tzinfo=tz, fold=fold)


# --- Site to sponsor: 24 hours ---------------------------------------------------------------------

# fmt: off
SPONSOR_DUE = [
    # awareness (local), due instant (UTC), due on the site's wall clock
    ("US spring-forward", local(NEW_YORK, 2026, 3, 7, 12, 0), datetime(2026, 3, 8, 17, 0, tzinfo=UTC), (2026, 3, 8, 13, 0)),
    ("US spring-forward, aware in the last hour of EST", local(NEW_YORK, 2026, 3, 8, 1, 30), datetime(2026, 3, 9, 6, 30, tzinfo=UTC), (2026, 3, 9, 2, 30)),
    ("US fall-back", local(NEW_YORK, 2026, 10, 31, 12, 0), datetime(2026, 11, 1, 16, 0, tzinfo=UTC), (2026, 11, 1, 11, 0)),
    ("US fall-back, first 01:30 (EDT)", local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0), datetime(2026, 11, 2, 5, 30, tzinfo=UTC), (2026, 11, 2, 0, 30)),
    ("US fall-back, second 01:30 (EST)", local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1), datetime(2026, 11, 2, 6, 30, tzinfo=UTC), (2026, 11, 2, 1, 30)),
    ("EU spring-forward", local(BERLIN, 2026, 3, 28, 12, 0), datetime(2026, 3, 29, 11, 0, tzinfo=UTC), (2026, 3, 29, 13, 0)),
    ("EU fall-back", local(BERLIN, 2026, 10, 24, 12, 0), datetime(2026, 10, 25, 10, 0, tzinfo=UTC), (2026, 10, 25, 11, 0)),
    ("no change", local(BERLIN, 2026, 6, 15, 9, 45), datetime(2026, 6, 16, 7, 45, tzinfo=UTC), (2026, 6, 16, 9, 45)),
]
# Awareness at noon the day before each change; `now` written on the site's wall clock, whose
# difference from noon is 24 h +/- 1 h: the clock must count real time, not wall-clock time.
DST_EDGES = [
    ("US spring-forward", NEW_YORK, (2026, 3, 7), (2026, 3, 8)),
    ("US fall-back", NEW_YORK, (2026, 10, 31), (2026, 11, 1)),
    ("EU spring-forward", BERLIN, (2026, 3, 28), (2026, 3, 29)),
    ("EU fall-back", BERLIN, (2026, 10, 24), (2026, 10, 25)),
]
# fmt: on


@pytest.mark.parametrize("case, aware_at, due_utc, due_wall", SPONSOR_DUE)
def test_the_sponsor_report_is_due_exactly_24_real_hours_after_awareness(
    case, aware_at, due_utc, due_wall
):
    due = sponsor_report_due(aware_at)
    assert (due, due.tzinfo) == (due_utc, UTC)
    assert due - aware_at.astimezone(UTC) == timedelta(hours=24)
    local_due = due.astimezone(aware_at.tzinfo)
    assert (local_due.year, local_due.month, local_due.day, local_due.hour, local_due.minute) == (
        due_wall
    )


@pytest.mark.parametrize("case, tz, aware_day, next_day", DST_EDGES)
def test_23_h_59_min_after_awareness_is_on_time_and_24_h_01_min_is_overdue_across_dst(
    case, tz, aware_day, next_day
):
    due = sponsor_report_due(local(tz, *aware_day, 12, 0))
    wall_due = due.astimezone(tz)  # 13:00 after spring-forward, 11:00 after fall-back
    just_before = local(tz, *next_day, wall_due.hour - 1, 59)
    just_after = local(tz, *next_day, wall_due.hour, 1)

    assert clock_state(due, just_before) == ClockState(
        overdue=False, remaining=MINUTE, late_by=None, reminder_due=True
    )
    assert clock_state(due, just_after) == ClockState(
        overdue=True, remaining=None, late_by=MINUTE, reminder_due=True
    )
    assert clock_state(due, just_after, reported_at=just_before) == ClockState(
        overdue=False, remaining=None, late_by=None, reminder_due=False
    )
    assert clock_state(due, just_after + MINUTE, reported_at=just_after) == ClockState(
        overdue=False, remaining=None, late_by=MINUTE, reminder_due=False
    )


@pytest.mark.parametrize(
    "after_awareness, overdue, remaining, late_by, reminder_due",
    [
        (timedelta(0), False, timedelta(hours=24), None, False),
        (timedelta(hours=11, minutes=59), False, timedelta(hours=12, minutes=1), None, False),
        (timedelta(hours=12), False, timedelta(hours=12), None, True),
        (timedelta(hours=23, minutes=59), False, MINUTE, None, True),
        (timedelta(hours=24), True, None, timedelta(0), True),
        (timedelta(hours=24, minutes=1), True, None, MINUTE, True),
        (timedelta(days=3), True, None, timedelta(days=2), True),
    ],
)
def test_an_unreported_clock_counts_down_reminds_at_12_hours_and_then_counts_lateness(
    after_awareness, overdue, remaining, late_by, reminder_due
):
    aware_at = local(BERLIN, 2026, 6, 15, 9, 45)
    state = clock_state(sponsor_report_due(aware_at), aware_at + after_awareness)
    assert state == ClockState(overdue, remaining, late_by, reminder_due)


def test_a_report_made_exactly_at_the_due_instant_is_on_time():
    due = sponsor_report_due(local(NEW_YORK, 2026, 3, 7, 12, 0))
    state = clock_state(due, due + timedelta(hours=5), reported_at=due)
    assert (state.overdue, state.late_by, state.reminder_due) == (False, None, False)


# --- Site to IRB: business days in the site's time zone -------------------------------------------

MEMORIAL_DAY = date(2026, 5, 25)
YEAR_END = [date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31), date(2027, 1, 1)]

# fmt: off
IRB_DUE = [
    # case, site time zone, awareness, business days, holidays, last day for the IRB report
    ("Monday: the next Monday", NEW_YORK, local(NEW_YORK, 2026, 3, 2, 10, 0), 5, [], date(2026, 3, 9)),
    ("Wednesday: across one weekend", NEW_YORK, local(NEW_YORK, 2026, 3, 4, 10, 0), 5, [], date(2026, 3, 11)),
    ("Friday evening: the next Friday", NEW_YORK, local(NEW_YORK, 2026, 3, 6, 21, 30), 5, [], date(2026, 3, 13)),
    ("Saturday: counting starts on Monday", NEW_YORK, local(NEW_YORK, 2026, 3, 7, 10, 0), 5, [], date(2026, 3, 13)),
    ("Sunday (spring-forward): counting starts on Monday", NEW_YORK, local(NEW_YORK, 2026, 3, 8, 10, 0), 5, [], date(2026, 3, 13)),
    ("Thursday 22:30 in New York is Friday in UTC: the local date counts", NEW_YORK, local(NEW_YORK, 2026, 3, 5, 22, 30), 5, [], date(2026, 3, 12)),
    ("Monday 00:30 in Berlin is Sunday in UTC: the local date counts", BERLIN, datetime(2026, 10, 18, 22, 30, tzinfo=UTC), 5, [], date(2026, 10, 26)),
    ("a site holiday is skipped", NEW_YORK, local(NEW_YORK, 2026, 5, 21, 10, 0), 5, [MEMORIAL_DAY], date(2026, 5, 29)),
    ("the same week without the holiday", NEW_YORK, local(NEW_YORK, 2026, 5, 21, 10, 0), 5, [], date(2026, 5, 28)),
    ("a holiday on a weekend changes nothing", NEW_YORK, local(NEW_YORK, 2026, 3, 4, 10, 0), 5, [date(2026, 3, 7)], date(2026, 3, 11)),
    ("year-end holidays", BERLIN, local(BERLIN, 2026, 12, 23, 16, 0), 5, YEAR_END, date(2027, 1, 5)),
    ("one business day from a Friday", BERLIN, local(BERLIN, 2026, 3, 27, 9, 0), 1, [], date(2026, 3, 30)),
    ("ten business days", BERLIN, local(BERLIN, 2026, 3, 2, 9, 0), 10, [], date(2026, 3, 16)),
]
# fmt: on


@pytest.mark.parametrize("case, tz, aware_at, business_days, holidays, due", IRB_DUE)
def test_the_irb_report_is_due_after_n_business_days_counted_from_the_local_date(
    case, tz, aware_at, business_days, holidays, due
):
    result = irb_report_due(aware_at, tz=tz, business_days=business_days, holidays=holidays)
    assert result == due


def test_irb_due_defaults_to_5_business_days_and_accepts_any_iterable_of_holidays():
    aware_at = local(NEW_YORK, 2026, 5, 21, 10, 0)
    assert irb_report_due(aware_at, tz=NEW_YORK) == date(2026, 5, 28)
    assert irb_report_due(aware_at, tz=NEW_YORK, holidays=iter([MEMORIAL_DAY])) == date(2026, 5, 29)


def test_an_irb_due_date_is_overdue_only_after_the_local_day_ends():
    due = end_of_local_day(date(2026, 3, 13), NEW_YORK)
    assert due == datetime(2026, 3, 14, 4, 0, tzinfo=UTC)  # midnight EDT
    assert not clock_state(due, local(NEW_YORK, 2026, 3, 13, 23, 59)).overdue
    assert clock_state(due, local(NEW_YORK, 2026, 3, 14, 0, 1)).overdue


# --- Refusals --------------------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 7, 12, 0)
AWARE = local(NEW_YORK, 2026, 3, 7, 12, 0)


@pytest.mark.parametrize(
    "call, field, message",
    [
        (lambda: sponsor_report_due(NAIVE), "aware_at", "The time of awareness has no time zone; give it with the site's time zone."),
        (lambda: sponsor_report_due(date(2026, 3, 7)), "aware_at", "The time of awareness must be a date and time (got datetime.date(2026, 3, 7))."),
        (lambda: irb_report_due(NAIVE, tz=NEW_YORK), "aware_at", "The time of awareness has no time zone; give it with the site's time zone."),
        (lambda: irb_report_due(AWARE, tz="America/New_York"), "tz", "The site's time zone must be a ZoneInfo (got 'America/New_York')."),
        (lambda: irb_report_due(AWARE, tz=NEW_YORK, business_days=0), "business_days", "Business days must be a whole number of 1 or more (got 0)."),
        (lambda: irb_report_due(AWARE, tz=NEW_YORK, business_days="5"), "business_days", "Business days must be a whole number of 1 or more (got '5')."),
        (lambda: irb_report_due(AWARE, tz=NEW_YORK, business_days=True), "business_days", "Business days must be a whole number of 1 or more (got True)."),
        (lambda: irb_report_due(AWARE, tz=NEW_YORK, holidays=[AWARE]), "holidays", f"Holidays must be dates without a time (got {AWARE!r})."),
        (lambda: irb_report_due(AWARE, tz=NEW_YORK, holidays=["2026-12-25"]), "holidays", "Holidays must be dates without a time (got '2026-12-25')."),
        (lambda: clock_state(NAIVE, AWARE), "due_at", "The due time has no time zone; give it with the site's time zone."),
        (lambda: clock_state(AWARE, NAIVE), "now", "The current time has no time zone; give it with the site's time zone."),
        (lambda: clock_state(AWARE, AWARE, reported_at=NAIVE), "reported_at", "The time of reporting has no time zone; give it with the site's time zone."),
        (lambda: clock_state(AWARE, AWARE, reported_at=AWARE + MINUTE), "reported_at", "The time of reporting cannot be after the current time."),
    ],
)  # fmt: skip
def test_naive_or_impossible_clock_inputs_are_refused_under_their_field(call, field, message):
    with pytest.raises(ClockError) as refusal:
        call()
    assert (refusal.value.field, str(refusal.value)) == (field, message)
    assert isinstance(refusal.value, ValueError)
