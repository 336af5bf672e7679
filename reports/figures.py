"""The monthly enrollment figures, per site and in total, from the screenings' timelines.

Pure functions over reports.timelines (no database): reports.selectors reads the history and
calls `scope_figures` once per site and once for all of them, so the total's medians and rates are
computed over every participant, never averaged from the sites'.

Every count is a pair: `month` (new in the calendar month) and `to_date` (cumulative as of the
month's last day). What the README's "Enrollment report" section documents as the JSON keys is
exactly what this module returns.
"""

import datetime as dt
import statistics
from collections import Counter

from participants.models import Status
from reports.timelines import Timeline, person_of

# The figures, in the order a sponsor reads them. Each maps a timeline to the dates it
# counts on (a list: a person can have several leukaphereses or manufacturing failures).
COUNTED = {
    "screenings": lambda t: [t.consented_on],
    "consented_people": lambda t: [] if t.is_rescreen else [t.consented_on],
    "rescreens": lambda t: [t.consented_on] if t.is_rescreen else [],
    "screen_failed": lambda t: [t.screen_failed_on],
    "enrolled": lambda t: [t.enrolled_on],
    "leukapheresis_done": lambda t: [t.first_leukapheresis_on],
    "leukapheresis_procedures": lambda t: t.leukapheresis_on,
    "manufacturing_failures": lambda t: t.manufacturing_failed_on,
    "treated": lambda t: [t.treated_on],
    "completed_treatment": lambda t: [] if t.stopped_early else [t.treatment_ended_on],
    "treatment_stopped_early": lambda t: [t.treatment_ended_on] if t.stopped_early else [],
    "in_follow_up": lambda t: [t.treatment_ended_on],
    "completed_study": lambda t: [t.completed_on],
    "withdrawn": lambda t: [t.withdrawn_on],
    "lost_to_follow_up": lambda t: t.lost_on,
    "reinstated": lambda t: t.reinstated_on,
    "died": lambda t: [t.died_on],
}
TALLIED = {
    "screen_failed_criteria": lambda t: (
        [(t.screen_failed_on, code) for code in t.failed_criteria]
        or ([(t.screen_failed_on, OTHER_CRITERION)] if t.screen_failed_on else [])
    ),
    "treatment_stopped_reasons": lambda t: (
        [(t.treatment_ended_on, t.stop_reason)] if t.stopped_early else []
    ),
    "withdrawal_reasons": lambda t: (
        [(t.withdrawn_on, t.withdrawal_reason)] if t.withdrawn_on else []
    ),
}
MEDIANS = {
    "consent_to_enrollment": lambda t: (t.consented_on, t.enrolled_on),
    "enrollment_to_leukapheresis": lambda t: (t.enrolled_on, t.first_leukapheresis_on),
    "leukapheresis_to_first_infusion": lambda t: (t.product_leukapheresis_on, t.treated_on),
}
PROJECTION_MONTHS = 3  # the rate of the last three months (this one and the two before)
NOT_ENOUGH_DATA = "not enough data"
# A screen failure with no criterion ticked: the note stays at the site, the report says "other".
OTHER_CRITERION = "other (no criterion given)"


def month_of(text: str) -> dt.date:
    """The first day of the month "YYYY-MM"; ValueError otherwise."""
    return dt.datetime.strptime(text, "%Y-%m").date()


def add_months(first: dt.date, n: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def last_day(first: dt.date) -> dt.date:
    return add_months(first, 1) - dt.timedelta(days=1)


def _counts(found: list[Timeline], first: dt.date, last: dt.date) -> dict:
    counts = {}
    for key, dates_of in COUNTED.items():
        days = [day for t in found for day in dates_of(t) if day is not None and day <= last]
        counts[key] = {"month": sum(first <= day for day in days), "to_date": len(days)}
    return counts


def _tallies(found: list[Timeline], first: dt.date) -> dict:
    tallies = {}
    for key, items_of in TALLIED.items():
        items = [(day, label) for t in found for day, label in items_of(t)]
        tallies[key] = {
            "month": dict(sorted(Counter(label for day, label in items if day >= first).items())),
            "to_date": dict(sorted(Counter(label for _, label in items).items())),
        }
    return tallies


def _median_days(found: list[Timeline]) -> dict:
    medians = {}
    for key, pair_of in MEDIANS.items():
        gaps = [(b - a).days for a, b in map(pair_of, found) if a is not None and b is not None]
        medians[key] = float(statistics.median(gaps)) if gaps else None
    return medians


def _months_between(earlier: dt.date, later: dt.date) -> int:
    """Whole months from `earlier` to `later` (5 Jan -> 4 Mar is 1, -> 5 Mar is 2)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (later.day < earlier.day)


def _projection(found: list[Timeline], first: dt.date, target: int) -> dict:
    """When the target is reached at the rate of the last three months, or when it was."""
    enrolled = sorted(
        t.enrolled_on for t in found if t.enrolled_on and t.enrolled_on <= last_day(first)
    )
    if target and len(enrolled) >= target:
        return {"status": "reached", "date": enrolled[target - 1].isoformat(), "per_month": None}
    window_start = add_months(first, 1 - PROJECTION_MONTHS)
    consents = [t.consented_on for t in found]
    rate = sum(day >= window_start for day in enrolled) / PROJECTION_MONTHS
    if not target or not consents or min(consents) >= window_start or rate == 0:
        # Fewer than three months of the study behind the month, or nobody enrolled in them.
        return {"status": NOT_ENOUGH_DATA, "date": None, "per_month": round(rate, 2)}
    days_needed = round((target - len(enrolled)) / rate * 365.25 / 12)
    when = last_day(first) + dt.timedelta(days=days_needed)
    return {"status": "projected", "date": when.isoformat(), "per_month": round(rate, 2)}


def _accrual(found: list[Timeline], first: dt.date, since: dt.date | None) -> list[dict]:
    """Cumulative enrollment at the end of each month from the first consent's to this one."""
    if since is None:
        return []
    series, month = [], since.replace(day=1)
    while month <= first:
        end = last_day(month)
        series.append(
            {
                "month": f"{month:%Y-%m}",
                "enrolled_to_date": sum(1 for t in found if t.enrolled_on and t.enrolled_on <= end),
            }
        )
        month = add_months(month, 1)
    return series


def _where_they_stopped(timeline: Timeline) -> str:
    return {
        Status.WITHDRAWN: "withdrawn",
        Status.DIED: "died",
        Status.LOST_TO_FOLLOW_UP: "lost_to_follow_up",
        Status.MANUFACTURING_FAILED: "manufacturing_failed",
    }.get(timeline.status, "ongoing")


CONSORT_STEPS = (
    ("enrolled", lambda t: t.enrolled_on),
    ("leukapheresis", lambda t: t.first_leukapheresis_on),
    ("treated", lambda t: t.treated_on),
    ("follow_up", lambda t: t.treatment_ended_on),
    ("completed", lambda t: t.completed_on),
)


def _consort(found: list[Timeline]) -> dict:
    """The flow of people (a re-screened person once, by their latest screening) as of the day
    the timelines were read to: assessed, excluded with reasons, then each step with the people
    who reached the step before but not this one, by where they stopped."""
    person = person_of(found)
    latest: dict[int, Timeline] = {}
    for t in sorted(found, key=lambda t: (t.consented_on, t.participant_id)):
        latest[person[t.participant_id]] = t
    people = list(latest.values())
    before_enrollment = [t for t in people if t.enrolled_on is None]
    excluded = Counter()
    for t in before_enrollment:
        if t.status != Status.SCREENING:
            excluded["screen_failed" if t.screen_failed_on else _where_they_stopped(t)] += 1
    flow = {
        "assessed": len(people),
        "excluded": sum(excluded.values()),
        "excluded_by": dict(sorted(excluded.items())),
        "excluded_criteria": dict(
            sorted(Counter(c for t in before_enrollment for c in t.failed_criteria).items())
        ),
        "in_screening": sum(t.status == Status.SCREENING for t in before_enrollment),
        "steps": [],
    }
    reached_before = None
    for name, reached in CONSORT_STEPS:
        here = [t for t in people if reached(t)]
        stopped = Counter(_where_they_stopped(t) for t in reached_before or [] if not reached(t))
        flow["steps"].append(
            {"step": name, "n": len(here), "not_reaching_it": dict(sorted(stopped.items()))}
        )
        reached_before = here
    follow_up = [t for t in people if t.treatment_ended_on]
    flow["completed_treatment"] = sum(not t.stopped_early for t in follow_up)
    flow["stopped_early"] = sum(t.stopped_early for t in follow_up)
    return flow


def scope_figures(
    found: list[Timeline], *, first: dt.date, code: str, name: str, target: int
) -> dict:
    """Every figure of one scope (a site, or all the sites shown) for the month from `first`.
    `found` holds the scope's timelines read to the month's last day."""
    last = last_day(first)
    counts = _counts(found, first, last)
    consents = [t.consented_on for t in found]
    since = min(consents) if consents else None
    enrolled = counts["enrolled"]["to_date"]
    screenings = counts["screenings"]["to_date"]
    statuses = Counter(t.status for t in found)
    return {
        "site": code,
        "name": name,
        "target": target,
        "counts": counts,
        "tallies": _tallies(found, first),
        "status_at_month_end": {value: statuses.get(value, 0) for value in Status.values},
        "enrollment_vs_target": {
            "enrolled": enrolled,
            "target": target,
            "percent": round(100 * enrolled / target, 1) if target else None,
        },
        "screen_failure_rate_percent": (
            round(100 * counts["screen_failed"]["to_date"] / screenings, 1) if screenings else None
        ),
        "median_days": _median_days(found),
        "first_consent_on": since.isoformat() if since else None,
        "months_since_first_consent": _months_between(since, last) if since else None,
        "projection": _projection(found, first, target),
        "accrual": _accrual(found, first, since),
        "consort": _consort(found),
    }
