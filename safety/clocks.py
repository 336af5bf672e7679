"""The serious-adverse-event reporting clocks. Pure functions: no global clock, callers pass `now`.

- Site to sponsor: within 24 hours of the site becoming aware of an SAE (ICH E6(R3); 21 CFR 312.64(b)
  in practice; /work/shared/PROTOCOL.md "Safety standards and clocks"). 24 real hours: the due instant
  is computed in UTC, so a daylight-saving change in between does not move it by an hour.
- Site to IRB: often 5 business days (each institution's policy, so the number and the holidays are
  arguments), counted in the site's time zone.

All instants returned are in UTC. Subtracting two aware datetimes that share a ZoneInfo compares their
wall-clock times (Python ignores the offset then), so every difference here is taken in UTC.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

SPONSOR_REPORT_WINDOW = timedelta(hours=24)
REMINDER_BEFORE_DUE = timedelta(hours=12)
SATURDAY = 5  # date.weekday(): Monday 0 ... Sunday 6


class ClockError(ValueError):
    """An input the clocks cannot use. `field` is the argument at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


_LABELS = {
    "aware_at": "The time of awareness",
    "due_at": "The due time",
    "now": "The current time",
    "reported_at": "The time of reporting",
}


def _utc(field: str, value) -> datetime:
    """An aware datetime, in UTC. Naive datetimes are refused: their instant is unknown."""
    label = _LABELS[field]
    if not isinstance(value, datetime):
        raise ClockError(field, f"{label} must be a date and time (got {value!r}).")
    if value.utcoffset() is None:
        raise ClockError(field, f"{label} has no time zone; give it with the site's time zone.")
    return value.astimezone(UTC)


def sponsor_report_due(aware_at: datetime) -> datetime:
    """The instant (UTC) the site's SAE report to the sponsor is due: exactly 24 hours after awareness."""
    return _utc("aware_at", aware_at) + SPONSOR_REPORT_WINDOW


def _holiday_set(holidays: Iterable[date]) -> frozenset[date]:
    days = frozenset(holidays)
    for day in days:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ClockError("holidays", f"Holidays must be dates without a time (got {day!r}).")
    return days


def irb_report_due(
    aware_at: datetime, *, tz: tzinfo, business_days: int = 5, holidays: Iterable[date] = ()
) -> date:
    """The last local date (site time zone) for the IRB report: the date of awareness plus
    `business_days` business days. The day of awareness is not counted; weekends and `holidays` are
    skipped, so awareness on a Saturday counts from the Monday (or the next business day)."""
    if not isinstance(tz, tzinfo):
        raise ClockError("tz", f"The site's time zone must be a ZoneInfo (got {tz!r}).")
    if isinstance(business_days, bool) or not isinstance(business_days, int) or business_days < 1:
        raise ClockError(
            "business_days",
            f"Business days must be a whole number of 1 or more (got {business_days!r}).",
        )
    skipped = _holiday_set(holidays)
    day = _utc("aware_at", aware_at).astimezone(tz).date()
    counted = 0
    while counted < business_days:
        day += timedelta(days=1)
        if day.weekday() < SATURDAY and day not in skipped:
            counted += 1
    return day


def end_of_local_day(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) a local date ends at the site: its next midnight. A report due "by" a date
    (irb_report_due) is overdue after this instant; pass it to clock_state as `due_at`."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class ClockState:
    """Where a reporting clock stands at `now`.

    overdue: not reported and `now` is at or past the due instant (as every overdue rule of the
        tracker: an overdue safety assessment is due_at <= now, and the SAE clock scan flags at the
        due instant). A report made at the due instant itself is on time.
    remaining: time left until due, while not reported and not overdue; else None.
    late_by: how late the report was (reported after due), or, while not reported and overdue, how
        late it is so far; None when on time.
    reminder_due: not reported and 12 hours or less remaining (including overdue).
    """

    overdue: bool
    remaining: timedelta | None
    late_by: timedelta | None
    reminder_due: bool


def clock_state(due_at: datetime, now: datetime, reported_at: datetime | None = None) -> ClockState:
    due, current = _utc("due_at", due_at), _utc("now", now)
    if reported_at is not None:
        reported = _utc("reported_at", reported_at)
        if reported > current:
            raise ClockError(
                "reported_at", "The time of reporting cannot be after the current time."
            )
        late = reported - due if reported > due else None
        return ClockState(overdue=False, remaining=None, late_by=late, reminder_due=False)
    left = due - current
    overdue = left <= timedelta(0)
    return ClockState(
        overdue=overdue,
        remaining=None if overdue else left,
        late_by=-left if overdue else None,
        reminder_due=left <= REMINDER_BEFORE_DUE,
    )
