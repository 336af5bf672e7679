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


def local_time_problem(day: dt.date, time: dt.time, tz: ZoneInfo) -> str:
    """Why a wall-clock time cannot name one instant at the site, or "".

    On the spring change a local hour does not exist (clocks jump from 02:00 to 03:00 in New
    York); on the autumn change one happens twice. Taking either silently would put a result or an
    infusion an hour off, so the forms refuse them with the clock change named.
    """
    naive = dt.datetime.combine(day, time)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return ""
    when = f"{time:%H:%M} on {day:%Y-%m-%d}"
    if first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return (
            f"{when} does not exist at the site ({tz.key}): the clocks went forward an hour "
            "that night. Enter the time the clock showed after the change."
        )
    return (
        f"{when} happens twice at the site ({tz.key}): the clocks went back an hour that night, "
        "so the tracker cannot tell which one is meant. Enter a time outside the repeated hour "
        "and note the exact time in the result or reason."
    )
