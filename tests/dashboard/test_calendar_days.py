"""A calendar day's first visits and its count, read day by day and site by site
(calendar_selectors.calendar_page), are those of every visit of the range ranked in Python:
done visits on the day they happened, missed ones on their target, open windows on their target
or on the range's first or last day when the target lies outside; a crowded day shows the sites
by code, then participants in the order they joined."""

import datetime as dt

import pytest

from dashboard import calendar_selectors as calendar_reads
from participants import access
from participants.models import StaffRole
from schedule.models import Visit
from tests.support import TODAY, days, frozen, make_user, populate


def expected(user, start, end, per_day, sites):
    """Every visit of the range (the day view's read), laid on its day and ranked here."""
    code = {s.pk: s.code for s in sites}
    on_day: dict[dt.date, list] = {}
    for v in calendar_reads.calendar_visits(user, start, end, sites):
        day = v.actual_date if v.status == "done" else v.target_date
        day = min(max(day, start), end)
        on_day.setdefault(day, []).append(v)
    shown = set()
    for visits in on_day.values():
        visits.sort(key=lambda v: (code[v.participant.site_id], v.participant_id, v.pk))
        shown |= {v.pk for v in visits[:per_day]}
    return shown, {day: len(visits) for day, visits in on_day.items()}


@pytest.fixture
def study(protocol, site, site2, coordinator, investigator):
    """Thirty participants at two sites, consented over fifty days, a third enrolled (screening
    done, first infusion planned), some screening visits missed."""
    investigator2 = make_user("invest2", StaffRole.INVESTIGATOR, [site2])
    with frozen():
        made = populate(30, [site, site2], coordinator, [investigator, investigator2])
    # Missed visits as the calendar reads them (status, target, window): set on the rows, since
    # the services refuse to miss a screening visit (the participant cannot go on without it).
    screening = Visit.objects.filter(participant__in=made[1::4], definition__code="SCR")
    assert screening.filter(status="scheduled").update(status="missed")
    return made


MONDAY = TODAY - days(TODAY.weekday())
RANGES = [(MONDAY + days(7 * k), MONDAY + days(7 * k + 6)) for k in range(-9, 9)] + [
    (dt.date(2026, 2, 23), dt.date(2026, 4, 5)),  # the month view of March 2026
    (dt.date(2026, 1, 26), dt.date(2026, 3, 1)),
]


@pytest.mark.parametrize("per_day", [1, 2, 5])
def test_each_day_shows_the_same_first_visits_and_count_as_every_visit_ranked(
    study, manager, coordinator, per_day
):
    for user in (manager, coordinator):
        sites = access.visible_site_list(user)
        for start, end in RANGES:
            page = calendar_reads.calendar_page(user, start, end, per_day, sites)
            shown, on_day = expected(user, start, end, per_day, sites)
            assert {v.pk for v in page.visits} == shown, (user, start, end)
            assert page.on_day == on_day, (user, start, end)


def test_the_study_holds_every_kind_of_visit_a_calendar_lays_out(study, manager):
    """The comparison above means something: its ranges hold done, missed and open visits,
    crowded days, and open windows running over a range's first and last days."""
    sites = access.visible_site_list(manager)
    kinds, crowded, over_edges = set(), 0, 0
    for start, end in RANGES:
        visits = list(calendar_reads.calendar_visits(manager, start, end, sites))
        kinds |= {v.status for v in visits}
        over_edges += sum(
            v.status == "scheduled" and not start <= v.target_date <= end for v in visits
        )
        _, on_day = expected(manager, start, end, 1, sites)
        crowded += sum(n > 5 for n in on_day.values())
    assert kinds == {"done", "missed", "scheduled"}
    assert crowded and over_edges
