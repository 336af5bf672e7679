"""Window arithmetic for visits, as small pure functions (no database, no clock).

Visit targets and windows are calendar dates in the site's time zone. A window is inclusive at
both ends: a visit on `end` is in window, a visit on `end + 1 day` is not.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    target: dt.date
    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: "Window") -> bool:
        return self.start <= other.end and other.start <= self.end


def window_for(anchor: dt.date, offset: int, before: int, after: int) -> Window:
    """The window of a visit `offset` days after `anchor`, `before`/`after` days either side."""
    if before < 0 or after < 0:
        raise ValueError("window days before/after are counted as non-negative numbers")
    target = anchor + dt.timedelta(days=offset)
    return Window(
        target=target,
        start=target - dt.timedelta(days=before),
        end=target + dt.timedelta(days=after),
    )


def start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `tz`, as an aware UTC datetime.

    Midnight is skipped in a few zones on daylight-saving days; zoneinfo then resolves to the
    instant just after the gap, which is still the start of that calendar day.
    """
    local = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    # Round-trip through UTC so a midnight inside a DST gap lands on the first real instant.
    return local.astimezone(dt.UTC)


def window_closes_at(end: dt.date, tz: ZoneInfo) -> dt.datetime:
    """When a window whose last day is `end` has closed: the start of the next local day."""
    return start_of_day(end + dt.timedelta(days=1), tz)


def local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.astimezone(tz).date()


def local_time_on(day: dt.date, hour: int, tz: ZoneInfo) -> dt.datetime:
    """`hour`:00 local time on `day`, as UTC. Used for "send at 08:00 site time"."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


def study_day_offset(d0: dt.date, day: dt.date) -> int:
    """Days from the first infusion: D0 is 0, the day before is -1."""
    return (day - d0).days


def study_day_label(offset: int, convention: str) -> str:
    """Label an offset as "Day N" in the chosen convention.

    "day0": the sponsor's convention, first infusion is Day 0.
    "cdisc": CDISC SDTM, first infusion is Day 1 and there is no Day 0 (Day -1 is the day before).
    """
    if convention == "day0":
        return f"Day {offset}"
    if convention == "cdisc":
        return f"Day {offset + 1 if offset >= 0 else offset}"
    raise ValueError(f"unknown study day convention {convention!r}")
