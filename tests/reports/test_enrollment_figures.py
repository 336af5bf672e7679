"""The enrollment report's figures against a hand-counted trial history (tests/reports/conftest.py
tells the story): every figure of February 2026 per site and in total, and what crosses a month
boundary or a time-zone midnight."""

import datetime as dt

from participants.models import Status, StatusChange
from reports.selectors import enrollment_figures
from schedule import services
from tests.reports.conftest import complete_the_study
from tests.support import Journey

FEB = dt.date(2026, 2, 1)
ZERO = (0, 0)
NOTHING = {"month": {}, "to_date": {}}


def counts(scope) -> dict:
    return {key: (pair["month"], pair["to_date"]) for key, pair in scope["counts"].items()}


def statuses(scope) -> dict:
    return {status: n for status, n in scope["status_at_month_end"].items() if n}


# February 2026, counted by hand from the story. (new in February, cumulative to 28 Feb)
S01_COUNTS = {
    "screenings": (2, 6),  # B2 and G in February; A, B, C, D in January
    "consented_people": (1, 5),  # B2 is B again: the person once
    "rescreens": (1, 1),
    "screen_failed": (1, 1),
    "enrolled": (3, 5),  # C reinstated back to enrolled is still one enrollment
    "leukapheresis_done": (2, 2),  # A and D (D twice: one person)
    "leukapheresis_procedures": (3, 3),
    "manufacturing_failures": (1, 1),
    "treated": (2, 2),
    "completed_treatment": ZERO,  # A's 6th infusion is in March
    "treatment_stopped_early": ZERO,  # D stops in March
    "in_follow_up": ZERO,
    "completed_study": ZERO,
    "withdrawn": ZERO,
    "lost_to_follow_up": (1, 1),
    "reinstated": (1, 1),
    "died": (1, 1),
}
S02_COUNTS = {
    **{key: ZERO for key in S01_COUNTS},
    "screenings": (1, 2),  # K on 28 Feb; E's 1 Mar 00:00 Berlin is 28 Feb in UTC, but March here
    "consented_people": (1, 2),
    "withdrawn": (1, 1),
}
TOTAL_COUNTS = {
    key: tuple(map(sum, zip(S01_COUNTS[key], S02_COUNTS[key], strict=True))) for key in S01_COUNTS
}


def test_every_figure_of_february_per_site_and_in_total(
    trial_history, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        report = enrollment_figures(FEB)
    s01, s02 = report["sites"]
    total = report["total"]
    assert (report["month"], report["first_day"], report["last_day"]) == (
        "2026-02",
        "2026-02-01",
        "2026-02-28",
    )
    assert [s01["site"], s02["site"], total["site"]] == ["S01", "S02", "ALL"]
    assert counts(s01) == S01_COUNTS
    assert counts(s02) == S02_COUNTS
    assert counts(total) == TOTAL_COUNTS
    assert TOTAL_COUNTS["screenings"] == (3, 8)

    assert s01["tallies"] == {
        "screen_failed_criteria": {"month": {"IN_AUTOAB": 1}, "to_date": {"IN_AUTOAB": 1}},
        "treatment_stopped_reasons": NOTHING,
        "withdrawal_reasons": NOTHING,
    }
    assert s02["tallies"]["withdrawal_reasons"] == {
        "month": {"Consent withdrawn by the participant": 1},
        "to_date": {"Consent withdrawn by the participant": 1},
    }
    assert total["tallies"]["screen_failed_criteria"]["to_date"] == {"IN_AUTOAB": 1}

    # As of 28 Feb, not as of today (A and D are in follow-up by March, K screen failed).
    assert statuses(s01) == {
        Status.SCREEN_FAILED: 1,
        Status.ENROLLED: 2,
        Status.IN_TREATMENT: 2,
        Status.DIED: 1,
    }
    assert statuses(s02) == {Status.SCREENING: 1, Status.WITHDRAWN: 1}

    assert s01["enrollment_vs_target"] == {"enrolled": 5, "target": 10, "percent": 50.0}
    assert s02["enrollment_vs_target"] == {"enrolled": 0, "target": 10, "percent": 0.0}
    assert total["enrollment_vs_target"] == {"enrolled": 5, "target": 30, "percent": 16.7}
    assert (s01["screen_failure_rate_percent"], s02["screen_failure_rate_percent"]) == (16.7, 0.0)
    assert total["screen_failure_rate_percent"] == 12.5

    # consent -> enrollment: A 7, B2 7, C 2, D 7, G 7; enrollment -> leukapheresis: A 21, D 21;
    # leukapheresis -> first infusion: A 18, D 15 (from the repeat collection whose cells were given)
    medians = {
        "consent_to_enrollment": 7.0,
        "enrollment_to_leukapheresis": 21.0,
        "leukapheresis_to_first_infusion": 16.5,
    }
    assert s01["median_days"] == medians == total["median_days"]
    assert set(s02["median_days"].values()) == {None}

    assert (s01["first_consent_on"], s02["first_consent_on"]) == ("2026-01-05", "2026-01-10")
    assert (s01["months_since_first_consent"], total["months_since_first_consent"]) == (1, 1)
    assert s01["projection"] == {"status": "not enough data", "date": None, "per_month": 1.67}
    assert s02["projection"] == {"status": "not enough data", "date": None, "per_month": 0.0}

    assert total["accrual"] == [
        {"month": "2026-01", "enrolled_to_date": 2},
        {"month": "2026-02", "enrolled_to_date": 5},
    ]
    assert total["consort"] == {
        "assessed": 7,
        "excluded": 1,
        "excluded_by": {"withdrawn": 1},
        "excluded_criteria": {},  # B failed, but was re-screened and enrolled
        "in_screening": 1,
        "steps": [
            {"step": "enrolled", "n": 5, "not_reaching_it": {}},
            {"step": "leukapheresis", "n": 2, "not_reaching_it": {"died": 1, "ongoing": 2}},
            {"step": "treated", "n": 2, "not_reaching_it": {}},
            {"step": "follow_up", "n": 0, "not_reaching_it": {"ongoing": 2}},
            {"step": "completed", "n": 0, "not_reaching_it": {}},
        ],
        "completed_treatment": 0,
        "stopped_early": 0,
    }


def test_a_consent_at_22_00_in_new_york_on_31_january_counts_in_january(trial_history):
    assert trial_history["C"].p.consent_at.astimezone(dt.UTC).date() == dt.date(2026, 2, 1)
    s01, s02 = enrollment_figures(dt.date(2026, 1, 1))["sites"]
    assert counts(s01)["screenings"] == (4, 4)  # A, B, C, D
    assert counts(s01)["enrolled"] == (2, 2)  # A and D on 12 Jan
    assert counts(s02)["screenings"] == (1, 1)


def test_march_counts_what_crossed_the_boundary_and_midnight_in_berlin(trial_history):
    assert trial_history["E"].p.consent_at.astimezone(dt.UTC).date() == dt.date(2026, 2, 28)
    s01, s02 = enrollment_figures(dt.date(2026, 3, 1))["sites"]
    assert counts(s02)["screenings"] == (1, 3)  # E, at 00:00 Berlin on 1 March
    assert counts(s02)["screen_failed"] == (1, 1)  # K, consented in February
    assert s02["tallies"]["screen_failed_criteria"]["month"] == {"EX_PREG": 1}
    assert s02["consort"]["excluded_by"] == {"screen_failed": 1, "withdrawn": 1}
    assert counts(s01)["completed_treatment"] == (1, 1)  # A's 6th infusion on 27 March
    assert counts(s01)["treatment_stopped_early"] == (1, 1)  # D on 3 March
    assert counts(s01)["in_follow_up"] == (2, 2)
    assert s01["tallies"]["treatment_stopped_reasons"]["month"] == {"CRS or ICANS": 1}
    assert statuses(s01)[Status.IN_FOLLOW_UP] == 2
    assert s01["consort"]["completed_treatment"] == s01["consort"]["stopped_early"] == 1


def test_the_target_date_is_projected_at_the_rate_of_the_last_three_months(trial_history):
    s01 = enrollment_figures(dt.date(2026, 4, 1))["sites"][0]
    # Three enrollments in February to April: one a month; five to go from 30 April.
    assert s01["projection"] == {"status": "projected", "date": "2026-09-29", "per_month": 1.0}
    assert s01["months_since_first_consent"] == 3


def withdraw_b2_in_may(trial_history, coordinator) -> None:
    with trial_history["B2"].on(dt.date(2026, 5, 4)):
        services.participant_withdraw(
            trial_history["B2"].p,
            on=dt.date(2026, 5, 4),
            reason="travel burden",
            reason_code="other",
            safety_follow_up_continues=False,
            by=coordinator,
        )


def test_a_past_month_does_not_change_when_later_events_are_recorded(
    trial_history, site, coordinator, investigator
):
    february = enrollment_figures(FEB)
    complete_the_study(trial_history["A"])
    late = Journey(site, coordinator, investigator, consent_on=dt.date(2026, 4, 7))
    late.enroll(dt.date(2026, 4, 14))
    withdraw_b2_in_may(trial_history, coordinator)
    assert enrollment_figures(FEB) == february
    completed = enrollment_figures(dt.date(2027, 2, 1))["sites"][0]
    assert counts(completed)["completed_study"] == (1, 1)
    assert counts(completed)["enrolled"] == (0, 6)
    assert completed["projection"]["status"] == "not enough data"  # none in the last 3 months
    assert completed["consort"]["steps"][-1]["n"] == 1


def test_the_figures_are_read_from_the_cache_until_a_status_change_is_recorded(
    trial_history, coordinator, django_assert_max_num_queries
):
    """The report reads the whole history; a second look at an unchanged history costs the
    site list and the history's high-water mark only, and a new status change is seen at once."""
    before = enrollment_figures(dt.date(2026, 5, 1))
    with django_assert_max_num_queries(2):
        assert enrollment_figures(dt.date(2026, 5, 1)) == before
    withdraw_b2_in_may(trial_history, coordinator)
    after = enrollment_figures(dt.date(2026, 5, 1))
    assert counts(after["total"])["withdrawn"] == (
        counts(before["total"])["withdrawn"][0] + 1,
        counts(before["total"])["withdrawn"][1] + 1,
    )


def test_a_status_change_committed_after_a_later_one_is_still_seen(trial_history, coordinator):
    """A transaction can take its history row's id before another's and commit after it: the
    last id is then unchanged, but the figures cached without that row must not be served."""
    before = enrollment_figures(dt.date(2026, 5, 1))
    withdraw_b2_in_may(trial_history, coordinator)
    late = StatusChange.objects.latest("id")
    late_id = late.pk
    late.delete()  # not committed yet
    later = StatusChange.objects.get(pk=late_id - 1)
    later.pk, later.effective_on = None, dt.date(2026, 6, 2)  # a June change, committed first
    later.save()
    assert enrollment_figures(dt.date(2026, 5, 1)) == before  # cached under the June row's id
    late.pk = late_id
    late.save(force_insert=True)  # the May withdrawal commits, with its earlier id
    after = enrollment_figures(dt.date(2026, 5, 1))
    assert counts(after["total"])["withdrawn"][1] == counts(before["total"])["withdrawn"][1] + 1
