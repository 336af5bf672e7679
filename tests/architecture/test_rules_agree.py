"""One rule, one answer: every place that shows or acts on "overdue" or "window closed" gives the
same answer for the same row, at the edges (exactly at the due instant, one second either side,
safety vs not). Each caller goes through schedule.models' QuerySet and instance predicates."""

import datetime as dt

import pytest
import time_machine
from django.contrib.admin.sites import site as admin_site
from django.test import RequestFactory

from dashboard import selectors as dashboard
from notifications import selectors as notifications
from participants.models import StaffRole
from schedule.admin import OverdueFilter
from schedule.models import Assessment, Visit
from tests.support import consent, make_user

SECOND = dt.timedelta(seconds=1)
CONSENTED = dt.date(2026, 3, 2)


@pytest.fixture
def scr(protocol, site, coordinator):
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC), tick=False):
        participant = consent(site, coordinator, CONSENTED)
    return participant.visits.get(definition__code="SCR")


def _answers(assessment: Assessment, now: dt.datetime, manager) -> dict[str, bool]:
    """Is `assessment` overdue at `now`, according to each place that shows it?"""
    request = RequestFactory().get("/admin/schedule/assessment/", {"overdue": "yes"})
    request.user = manager
    admin = admin_site._registry[Assessment]
    with time_machine.travel(now, tick=False):
        admin_filter = OverdueFilter(request, {"overdue": ["yes"]}, Assessment, admin)
        admin_rows = admin_filter.queryset(request, Assessment.objects.all())
    participant_row = dashboard.participant_rows(manager, now).get(
        pk=assessment.visit.participant_id
    )
    flagged_by_scan = notifications.assessments_to_flag(now).filter(pk=assessment.pk).exists()
    return {
        "instance": assessment.is_overdue(now),
        "queryset": Assessment.objects.overdue(now).filter(pk=assessment.pk).exists(),
        "worklist": assessment in dashboard.overdue_safety_items(manager, now),
        "admin filter": admin_rows.filter(pk=assessment.pk).exists(),
        "overdue scan": flagged_by_scan,
        # The participants table counts overdue items; every SCR safety item is due together.
        "participants table": participant_row.overdue_safety > 0,
    }


@pytest.mark.parametrize(
    ("offset", "overdue"),
    [(-SECOND, False), (dt.timedelta(0), True), (SECOND, True)],
    ids=["one second before due", "exactly at due", "one second after due"],
)
def test_overdue_safety_item_is_decided_the_same_everywhere(scr, offset, overdue):
    manager = make_user("manager-x", StaffRole.STUDY_MANAGER, is_staff=True)
    item = scr.assessments.filter(is_safety=True).first()
    answers = _answers(item, item.due_at + offset, manager)
    assert answers == dict.fromkeys(answers, overdue)


def test_a_non_safety_item_past_its_due_time_is_overdue_nowhere(scr):
    manager = make_user("manager-x", StaffRole.STUDY_MANAGER, is_staff=True)
    item = scr.assessments.filter(is_safety=False).first()
    now = item.due_at + dt.timedelta(days=3)
    assert not item.is_overdue(now)
    assert not Assessment.objects.overdue(now).filter(pk=item.pk).exists()
    assert item not in dashboard.overdue_safety_items(manager, now)
    assert not notifications.assessments_to_flag(now).filter(pk=item.pk).exists()


@pytest.mark.parametrize(
    ("days_after_window_end", "closed"), [(0, False), (1, True)], ids=["last day", "day after"]
)
def test_window_closed_is_decided_the_same_by_queryset_instance_and_worklist(
    scr, days_after_window_end, closed
):
    manager = make_user("manager-x", StaffRole.STUDY_MANAGER, is_staff=True)
    today = scr.window_end + dt.timedelta(days=days_after_window_end)
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=scr.participant.site.tz)
    with time_machine.travel(noon, tick=False):
        work = dashboard.worklist(manager, noon)
    assert scr.window_closed(today) is closed
    assert Visit.objects.window_closed(today).filter(pk=scr.pk).exists() is closed
    assert Visit.objects.window_closed({scr.participant.site_id: today}).contains(scr) is closed
    assert (scr in work.overdue_visits) is closed
