"""The monthly enrollment report: counts per site for a calendar month, fixed query count."""

import datetime as dt

import pytest
from django.core.management import call_command

from participants.reports import enrollment_report
from schedule import services
from tests.support import Journey, coordinator_at, local


@pytest.fixture
def study(protocol, site, site2, coordinator, investigator):
    """S01: two consents in January (one enrolled in January, one screen failed in February),
    one consent in February. S02: one consent in January."""
    a = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 5))
    a.enroll(dt.date(2026, 1, 20))
    b = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 31))
    with b.on(dt.date(2026, 2, 2)):
        services.participant_screen_fail(
            b.p,
            on=dt.date(2026, 2, 2),
            failed_criteria=["IN_AUTOAB"],
            rescreen_allowed=False,
            by=coordinator,
        )
    Journey(site, coordinator, investigator, consent_on=dt.date(2026, 2, 1))
    Journey(site2, coordinator_at(site2), investigator, consent_on=dt.date(2026, 1, 6))


def test_counts_consents_enrollments_and_failures_in_the_month(study):
    report = enrollment_report(dt.date(2026, 1, 15))
    s01, s02 = report.sites
    assert (
        s01.code,
        s01.consented_in_month,
        s01.enrolled_in_month,
        s01.screen_failed_in_month,
    ) == ("S01", 2, 1, 0)
    assert (s02.code, s02.consented_in_month) == ("S02", 1)
    assert report.totals.consented_in_month == 3


def test_next_month_counts_only_its_own_events_and_keeps_the_running_total(study):
    s01 = enrollment_report(dt.date(2026, 2, 1)).sites[0]
    assert (s01.consented_in_month, s01.enrolled_in_month, s01.screen_failed_in_month) == (1, 0, 1)
    assert s01.enrolled_total == 1
    assert s01.percent_of_target == 10


def test_consent_late_in_the_evening_counts_in_the_sites_month(
    protocol, site, coordinator, investigator
):
    # 31 Jan 22:00 in New York is 1 Feb in UTC: the site's calendar decides.
    j = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 1, 31), hour=22)
    assert j.p.consent_at == local(dt.date(2026, 1, 31), 22, site.time_zone)
    assert enrollment_report(dt.date(2026, 1, 1)).sites[0].consented_in_month == 1
    assert enrollment_report(dt.date(2026, 2, 1)).sites[0].consented_in_month == 0


def test_report_query_count_does_not_grow_with_participants(study, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        enrollment_report(dt.date(2026, 1, 1))


def test_command_prints_the_table(study, capsys):
    call_command("enrollment_report", "--month", "2026-01")
    out = capsys.readouterr().out
    assert "January 2026" in out
    assert any(line.split()[:3] == ["S01", "2", "1"] for line in out.splitlines())
