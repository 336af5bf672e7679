"""Window arithmetic (schedule/windows.py) as pure functions, and protocol v1's windows."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedule import services
from schedule.models import Anchor, ProtocolVersion, VisitDefinition, VisitKind
from schedule.protocols.v1 import PROTOCOL
from schedule.windows import (
    Window,
    local_date,
    local_time_on,
    start_of_day,
    study_day_label,
    study_day_offset,
    window_closes_at,
    window_for,
)
from tests.support import PASSWORD, all_met, consent

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))
offsets = st.integers(min_value=-400, max_value=400)
margins = st.integers(min_value=0, max_value=60)
zones = st.sampled_from(
    [
        "America/New_York",
        "Europe/Berlin",
        "UTC",
        "Australia/Lord_Howe",  # half-hour DST shift
        "Pacific/Kiritimati",  # UTC+14
        "America/Havana",  # DST changes at midnight: local midnight is skipped
        "America/Santiago",  # idem
    ]
)


# --- Windows ------------------------------------------------------------------------------------


@given(anchor=dates, offset=offsets, before=margins, after=margins)
def test_every_window_contains_its_target(anchor, offset, before, after):
    w = window_for(anchor, offset, before, after)
    assert w.contains(w.target)
    assert w.start <= w.target <= w.end
    assert w.target == anchor + dt.timedelta(days=offset)
    assert (w.target - w.start).days == before
    assert (w.end - w.target).days == after


@given(anchor=dates, offset=offsets, before=margins, after=margins)
def test_window_is_inclusive_at_both_ends_and_nothing_beyond(anchor, offset, before, after):
    w = window_for(anchor, offset, before, after)
    one = dt.timedelta(days=1)
    assert w.contains(w.start) and w.contains(w.end)
    assert not w.contains(w.start - one)
    assert not w.contains(w.end + one)


def test_window_days_before_or_after_must_not_be_negative():
    with pytest.raises(ValueError):
        window_for(dt.date(2026, 1, 1), 7, -2, 2)
    with pytest.raises(ValueError):
        window_for(dt.date(2026, 1, 1), 7, 2, -2)


@given(a=dates, b=dates, c=dates, d=dates)
def test_windows_overlap_exactly_when_they_share_a_day(a, b, c, d):
    w1 = Window(target=min(a, b), start=min(a, b), end=max(a, b))
    w2 = Window(target=min(c, d), start=min(c, d), end=max(c, d))
    shares_a_day = max(w1.start, w2.start) <= min(w1.end, w2.end)
    assert w1.overlaps(w2) == shares_a_day == w2.overlaps(w1)


# --- Leap days and month ends: offsets are days, not calendar months -----------------------------


@pytest.mark.parametrize(
    ("anchor", "offset", "target"),
    [
        (dt.date(2028, 2, 29), 0, dt.date(2028, 2, 29)),
        (dt.date(2028, 2, 29), 7, dt.date(2028, 3, 7)),
        (dt.date(2028, 2, 29), 365, dt.date(2029, 2, 28)),  # M12 from a leap-day D0
        (dt.date(2028, 2, 22), 7, dt.date(2028, 2, 29)),  # INF2 lands on the leap day
        (dt.date(2028, 2, 25), 7, dt.date(2028, 3, 3)),  # crosses Feb 29
        (dt.date(2027, 2, 25), 7, dt.date(2027, 3, 4)),  # same, no leap day
        (dt.date(2028, 1, 15), 365, dt.date(2029, 1, 14)),  # leap year: 365 days is not a year
        (dt.date(2027, 3, 1), 365, dt.date(2028, 2, 29)),  # M12 lands on the leap day
        (dt.date(2026, 1, 31), 28, dt.date(2026, 2, 28)),  # month end
        (dt.date(2026, 1, 31), 60, dt.date(2026, 4, 1)),
        (dt.date(2026, 12, 31), 1, dt.date(2027, 1, 1)),  # year end
        (dt.date(2026, 3, 1), -1, dt.date(2026, 2, 28)),
    ],
)
def test_target_is_anchor_plus_offset_days(anchor, offset, target):
    assert window_for(anchor, offset, 0, 0).target == target


def test_m12_window_from_a_leap_day_d0():
    w = window_for(dt.date(2028, 2, 29), 365, 14, 14)
    assert (w.start, w.target, w.end) == (
        dt.date(2029, 2, 14),
        dt.date(2029, 2, 28),
        dt.date(2029, 3, 14),
    )


def test_window_crossing_feb_29_counts_the_leap_day():
    w = window_for(dt.date(2028, 2, 20), 7, 2, 2)  # INF2 of a D0 on 20 Feb 2028
    assert (w.start, w.target, w.end) == (
        dt.date(2028, 2, 25),
        dt.date(2028, 2, 27),
        dt.date(2028, 2, 29),
    )
    assert w.contains(dt.date(2028, 2, 29))
    assert not w.contains(dt.date(2028, 3, 1))


# --- Closing instants in the site's time zone ---------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "last_day", "closes_utc"),
    [
        # New York: EST is UTC-5, EDT UTC-4. DST starts 8 Mar 2026, ends 1 Nov 2026.
        ("America/New_York", dt.date(2026, 3, 6), dt.datetime(2026, 3, 7, 5, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 3, 7), dt.datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 3, 8), dt.datetime(2026, 3, 9, 4, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 10, 31), dt.datetime(2026, 11, 1, 4, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 11, 1), dt.datetime(2026, 11, 2, 5, tzinfo=UTC)),
        # Berlin: CET is UTC+1, CEST UTC+2. DST starts 29 Mar 2026, ends 25 Oct 2026.
        ("Europe/Berlin", dt.date(2026, 3, 28), dt.datetime(2026, 3, 28, 23, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 22, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 10, 24), dt.datetime(2026, 10, 24, 22, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 10, 25), dt.datetime(2026, 10, 25, 23, tzinfo=UTC)),
        # Leap day.
        ("America/New_York", dt.date(2028, 2, 28), dt.datetime(2028, 2, 29, 5, tzinfo=UTC)),
        ("America/New_York", dt.date(2028, 2, 29), dt.datetime(2028, 3, 1, 5, tzinfo=UTC)),
    ],
)
def test_window_closes_at_the_first_instant_of_the_next_local_day(tz, last_day, closes_utc):
    closes = window_closes_at(last_day, ZoneInfo(tz))
    assert closes == closes_utc
    assert closes.utcoffset() == dt.timedelta(0)


@given(last_day=dates, tz_name=zones)
def test_window_closes_at_is_the_first_instant_of_the_following_local_day(last_day, tz_name):
    tz = ZoneInfo(tz_name)
    closes = window_closes_at(last_day, tz)
    next_day = last_day + dt.timedelta(days=1)
    # The closing instant is on the next local day, and the instant before it still on the last.
    assert local_date(closes, tz) == next_day
    assert local_date(closes - dt.timedelta(microseconds=1), tz) == last_day
    assert closes == start_of_day(next_day, tz)


def test_start_of_day_where_local_midnight_is_skipped():
    # Havana moved clocks from 00:00 to 01:00 on 8 Mar 2026: the day starts at 01:00 CDT (UTC-4).
    tz = ZoneInfo("America/Havana")
    start = start_of_day(dt.date(2026, 3, 8), tz)
    assert start == dt.datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert start.astimezone(tz).time() == dt.time(1, 0)


@pytest.mark.parametrize(
    ("day", "expected_utc"),
    [
        (dt.date(2026, 3, 7), dt.datetime(2026, 3, 7, 13, tzinfo=UTC)),
        (dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 12, tzinfo=UTC)),
        (dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 13, tzinfo=UTC)),
    ],
)
def test_0800_site_time_follows_daylight_saving(day, expected_utc):
    assert local_time_on(day, 8, NEW_YORK) == expected_utc


def test_an_instant_is_dated_in_the_site_time_zone():
    late_evening_new_york = dt.datetime(2026, 2, 21, 4, 30, tzinfo=UTC)  # 23:30 EST on 20 Feb
    assert local_date(late_evening_new_york, NEW_YORK) == dt.date(2026, 2, 20)
    assert local_date(late_evening_new_york, BERLIN) == dt.date(2026, 2, 21)


# --- Study days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "day0", "cdisc"),
    [
        (-59, "Day -59", "Day -59"),
        (-1, "Day -1", "Day -1"),
        (0, "Day 0", "Day 1"),
        (1, "Day 1", "Day 2"),
        (50, "Day 50", "Day 51"),
        (365, "Day 365", "Day 366"),
    ],
)
def test_study_day_label_in_both_conventions(offset, day0, cdisc):
    assert study_day_label(offset, "day0") == day0
    assert study_day_label(offset, "cdisc") == cdisc


@given(offset=st.integers(min_value=-1000, max_value=1000))
def test_cdisc_has_no_day_0_and_skips_nothing_else(offset):
    label = study_day_label(offset, "cdisc")
    assert label != "Day 0"
    number = int(label.removeprefix("Day "))
    assert number == (offset + 1 if offset >= 0 else offset)


def test_unknown_study_day_convention_is_refused():
    with pytest.raises(ValueError, match="convention"):
        study_day_label(0, "day1")


def test_study_day_offset_counts_days_from_d0():
    d0 = dt.date(2028, 2, 28)
    assert study_day_offset(d0, d0) == 0
    assert study_day_offset(d0, dt.date(2028, 2, 27)) == -1
    assert study_day_offset(d0, dt.date(2028, 3, 1)) == 2  # across the leap day


# --- Protocol v1 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_protocol_v1_loaded_by_migration_has_no_problems():
    protocol = ProtocolVersion.objects.get(version=1)
    assert services.protocol_problems(protocol) == []
    codes = list(protocol.visits.order_by("order").values_list("code", flat=True))
    assert codes == [
        "SCR",
        "APH",
        *[f"INF{n}" for n in range(1, 7)],
        *["EOT", "M2", "M3", "M6", "M9", "M12", "UNS", "ET"],
    ]


@pytest.mark.django_db
def test_protocol_v1_windows_do_not_overlap_and_targets_increase_per_anchor():
    protocol = ProtocolVersion.objects.get(version=1)
    origin = dt.date(2026, 1, 1)
    for anchor in (Anchor.CONSENT, Anchor.FIRST_INFUSION):
        definitions = list(protocol.visits.filter(anchor=anchor).order_by("order"))
        assert len(definitions) >= 2
        windows = [
            window_for(origin, d.target_offset, d.window_before, d.window_after)
            for d in definitions
        ]
        for earlier, later in zip(windows, windows[1:], strict=False):
            assert earlier.target < later.target
            assert earlier.end < later.start


@pytest.mark.django_db
def test_protocol_v1_m12_is_365_offset_days_not_twelve_calendar_months():
    m12 = VisitDefinition.objects.get(protocol__version=1, code="M12")
    assert (m12.anchor, m12.target_offset, m12.kind) == (
        Anchor.FIRST_INFUSION,
        365,
        VisitKind.COMPLETION,
    )
    assert "days" in VisitDefinition._meta.get_field("target_offset").help_text.lower()


def _broken(visits_patch):
    data = {**PROTOCOL, "version": 99, "name": "broken"}
    data["visits"] = [dict(v) for v in PROTOCOL["visits"]]
    for v in data["visits"]:
        v.update(visits_patch.get(v["code"], {}))
    return data


@pytest.mark.django_db
def test_protocol_with_overlapping_windows_is_reported_and_not_loaded():
    # M2 at Day 60 with a ±12 window reaches back into EOT's Day 47-53.
    with pytest.raises(ValidationError) as refused:
        services.protocol_load(_broken({"M2": {"before": 12, "after": 12}}))
    assert refused.value.messages == ["The windows of EOT and M2 overlap."]
    assert not ProtocolVersion.objects.filter(version=99).exists()


@pytest.mark.django_db
def test_protocol_with_visits_out_of_order_is_reported_and_not_loaded():
    with pytest.raises(ValidationError) as refused:
        services.protocol_load(_broken({"INF3": {"offset": 6}}))
    assert refused.value.messages == ["INF3 is listed after INF2 but its target is not later."]
    assert not ProtocolVersion.objects.filter(version=99).exists()


@pytest.mark.django_db
def test_protocol_problems_lists_each_problem_of_a_saved_protocol():
    protocol = ProtocolVersion.objects.get(version=1)
    protocol.visits.filter(code="APH").update(target_offset=10)  # SCR's window is Day 0-14
    protocol.visits.filter(code="M6").update(target_offset=80)  # before M3 at Day 90
    assert services.protocol_problems(protocol) == [
        "The windows of SCR and APH overlap.",
        "M6 is listed after M3 but its target is not later.",
    ]


@pytest.mark.django_db
def test_visits_with_different_anchors_are_not_compared():
    # SCR (C0, Day 0) and INF1 (D0, Day 0) share an offset but not an anchor: no problem.
    protocol = ProtocolVersion.objects.get(version=1)
    assert protocol.visits.get(code="SCR").target_offset == 0
    assert protocol.visits.get(code="INF1").target_offset == 0
    assert services.protocol_problems(protocol) == []


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    consent_on=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2032, 12, 31)),
    days_to_d0=st.integers(min_value=14, max_value=59),
    site_tz=st.sampled_from(["America/New_York", "Europe/Berlin"]),
)
def test_laid_out_d0_visits_are_in_order_and_infusions_at_least_5_days_apart(
    site, coordinator, investigator, consent_on, days_to_d0, site_tz
):
    site.time_zone = site_tz
    site.save()
    d0 = consent_on + dt.timedelta(days=days_to_d0)
    with transaction.atomic():  # each example starts from the same empty tables
        with time_machine.travel(dt.datetime.combine(consent_on, dt.time(20), UTC), tick=False):
            p = consent(site, coordinator, consent_on)
            services.participant_enroll(
                p,
                answers=all_met(),
                assessed_on=consent_on,
                signed_off_by=investigator,
                by=investigator,
                password=PASSWORD,
            )
            warnings = services.first_infusion_plan(p, planned_on=d0, by=coordinator)
            # Only the gap from the planned leukapheresis (C0 + 28) may be warned about here.
            assert all("after the planned leukapheresis" in w for w in warnings)
        visits = list(
            p.visits.filter(definition__anchor=Anchor.FIRST_INFUSION)
            .select_related("definition")
            .order_by("definition__order")
        )
        assert [v.definition.code for v in visits][:1] == ["INF1"]
        assert visits[0].target_date == d0
        targets = [v.target_date for v in visits]
        assert all(a < b for a, b in zip(targets, targets[1:], strict=False))
        infusions = [v for v in visits if v.definition.kind in ("first_infusion", "infusion")]
        assert len(infusions) == 6
        for previous, current in zip(infusions, infusions[1:], strict=False):
            gap = current.definition.min_days_after_previous
            assert gap == 5
            assert (current.target_date - previous.target_date).days >= gap
        transaction.set_rollback(True)
