"""The SAE clocks as the services store and stop them: 24 real hours to the sponsor across the US
daylight-saving change, IRB business days across a weekend and a site holiday, reports on time
and late (and by how much), pregnancy, death with its linked SAE, and the clock list's queries."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from participants.models import Status, StatusChange
from safety import selectors
from safety.models import ActionTaken, AdverseEvent, EventKind, Grading, Outcome, Relatedness
from safety.services import adverse_events as ae
from safety.services import sae as sae_services
from tests.support import Journey, coordinator_at, local

NY = "America/New_York"
UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tuesday 10 March, 11:00 in New York
MINUTE, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def participant(protocol, site, coordinator, investigator, frozen):
    """Consented at S01 (New York) on Monday 5 January 2026."""
    return Journey(site, coordinator, investigator).p


def sae(participant, by, aware_at, **overrides) -> AdverseEvent:
    """A grade 3 serious event (hospitalisation), the site aware at `aware_at`."""
    values = {
        "term": "Pneumonia needing admission",
        "ctcae_term": "Lung infection",
        "onset_date": aware_at.astimezone(participant.site.tz).date(),
        "grade": 3,
        "serious": True,
        "seriousness_criteria": ["hospitalisation"],
        "related_to_product": Relatedness.POSSIBLE,
        "related_to_leukapheresis": Relatedness.NOT_RELATED,
        "action_taken": ActionTaken.INFUSION_DELAYED,
        "outcome": Outcome.NOT_RECOVERED,
        **overrides,
    }
    return ae.ae_record(participant, aware_at=aware_at, by=by, **values)


def refused(call, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict


# --- Stored clocks ------------------------------------------------------------------------------


def test_the_sponsor_clock_is_24_real_hours_across_the_us_daylight_saving_change(
    participant, coordinator
):
    aware = local(dt.date(2026, 3, 7), 20, NY)  # Saturday 20:00 EST = Sunday 01:00 UTC
    with time_machine.travel(aware + 30 * MINUTE, tick=False):
        event = sae(participant, coordinator, aware)

    event.refresh_from_db()
    assert event.sponsor_report_due_at == dt.datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert event.sponsor_report_due_at - aware == 24 * HOUR
    # On the site's wall clock that is 21:00 EDT on Sunday, not 20:00: the clocks sprang forward.
    due_local = event.sponsor_report_due_at.astimezone(participant.site.tz)
    assert (due_local.date(), due_local.hour) == (dt.date(2026, 3, 8), 21)


def test_the_irb_due_date_skips_the_weekend_and_a_site_holiday(participant, coordinator, site):
    thursday = local(dt.date(2026, 3, 5), 16, NY)
    plain = sae(participant, coordinator, thursday)
    site.holidays = ["2026-03-09"]
    site.save()
    participant.refresh_from_db()
    with_holiday = sae(participant, coordinator, thursday)

    # Fri 6, Mon 9, Tue 10, Wed 11, Thu 12; with Monday a holiday the fifth is Fri 13.
    assert plain.irb_report_due_on == dt.date(2026, 3, 12)
    assert with_holiday.irb_report_due_on == dt.date(2026, 3, 13)


def test_the_irb_days_count_from_the_sites_date_of_awareness(participant, coordinator):
    friday_evening = local(dt.date(2026, 3, 6), 22, NY)  # already Saturday in UTC
    event = sae(participant, coordinator, friday_evening)
    assert event.irb_report_due_on == dt.date(2026, 3, 13)


def test_pregnancy_starts_the_same_clock(participant, coordinator):
    aware = local(dt.date(2026, 3, 9), 15, NY)
    event = sae_services.pregnancy_record(
        participant, aware_at=aware, onset_date=dt.date(2026, 2, 20), by=coordinator
    )

    assert (event.kind, event.grade, event.serious) == (EventKind.PREGNANCY, 1, True)
    assert event.seriousness_criteria == ["important_medical_event"]
    assert event.sponsor_report_due_at == aware + 24 * HOUR
    (clock,) = selectors.sae_clocks(coordinator, NOW)
    assert clock.event == event and clock.sponsor.remaining == 4 * HOUR


# --- Reporting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after_awareness", "late_by"),
    [
        (23 * HOUR + 59 * MINUTE, None),
        (24 * HOUR, None),  # at the due instant itself: on time
        (24 * HOUR + MINUTE, MINUTE),
    ],
    ids=["23 h 59 min is on time", "24 h exactly is on time", "24 h 01 min is 1 min late"],
)
def test_reporting_to_the_sponsor_keeps_how_late_it_was(
    participant, coordinator, after_awareness, late_by
):
    aware = local(dt.date(2026, 3, 8), 9, NY)
    event = sae(participant, coordinator, aware)
    event = sae_services.sae_report_to_sponsor(event, at=aware + after_awareness, by=coordinator)

    event.refresh_from_db()
    assert event.sponsor_reported_at == aware + after_awareness
    clock = selectors.sae_clock(event, NOW)
    assert (clock.overdue, clock.late_by, clock.remaining) == (False, late_by, None)
    assert event.sponsor_reported_at - event.sponsor_report_due_at == after_awareness - 24 * HOUR
    assert selectors.sae_clocks(coordinator, NOW) == []


def test_an_unreported_sae_is_overdue_by_the_time_past_due(participant, coordinator):
    aware = local(dt.date(2026, 3, 9), 10, NY)  # 14:00 UTC (EDT): due 10 March 14:00 UTC
    event = sae(participant, coordinator, aware)
    clock = selectors.sae_clock(event, NOW)
    assert (clock.overdue, clock.late_by, clock.reminder_due) == (True, HOUR, True)


def test_the_irb_report_is_on_time_until_the_due_date_ends_at_the_site(participant, coordinator):
    event = sae(participant, coordinator, local(dt.date(2026, 3, 2), 9, NY))  # due Mon 9 March
    assert event.irb_report_due_on == dt.date(2026, 3, 9)
    last_minute = local(dt.date(2026, 3, 9), 23, NY) + 59 * MINUTE
    event = sae_services.sae_report_to_irb(event, at=last_minute, by=coordinator)
    assert selectors.irb_clock(event, NOW).late_by is None

    later = sae(participant, coordinator, local(dt.date(2026, 3, 2), 9, NY))
    later = sae_services.sae_report_to_irb(
        later, at=local(dt.date(2026, 3, 10), 0, NY) + MINUTE, by=coordinator
    )
    assert selectors.irb_clock(later, NOW).late_by == MINUTE


REPORT_REFUSALS = [
    ("a report in the future", {"at": NOW + MINUTE}),
    ("a report before the site was aware", {"at": local(dt.date(2026, 3, 8), 8, NY)}),
]


@pytest.mark.parametrize(
    "report",
    [sae_services.sae_report_to_sponsor, sae_services.sae_report_to_irb],
    ids=["sponsor", "IRB"],
)
@pytest.mark.parametrize(
    "values", [r[1] for r in REPORT_REFUSALS], ids=[r[0] for r in REPORT_REFUSALS]
)
def test_reporting_refuses(participant, coordinator, report, values):
    event = sae(participant, coordinator, local(dt.date(2026, 3, 8), 9, NY))
    refused(lambda: report(event, by=coordinator, **values), "at")
    event.refresh_from_db()
    assert (event.sponsor_reported_at, event.irb_reported_at) == (None, None)


@pytest.mark.parametrize(
    "report",
    [sae_services.sae_report_to_sponsor, sae_services.sae_report_to_irb],
    ids=["sponsor", "IRB"],
)
def test_a_non_serious_event_is_not_reported_on_the_sae_clock(participant, coordinator, report):
    event = sae(
        participant,
        coordinator,
        local(dt.date(2026, 3, 8), 9, NY),
        serious=False,
        seriousness_criteria=[],
    )
    refused(lambda: report(event, at=NOW, by=coordinator), "at")
    assert selectors.sae_clock(event, NOW) is None


@pytest.mark.parametrize(
    ("report", "field"),
    [
        (sae_services.sae_report_to_sponsor, "sponsor_reported_at"),
        (sae_services.sae_report_to_irb, "irb_reported_at"),
    ],
    ids=["sponsor", "IRB"],
)
def test_an_sae_is_reported_once(participant, coordinator, report, field):
    first = local(dt.date(2026, 3, 8), 12, NY)
    event = report(
        sae(participant, coordinator, local(dt.date(2026, 3, 8), 9, NY)), at=first, by=coordinator
    )
    refused(lambda: report(event, at=NOW, by=coordinator), "at")
    event.refresh_from_db()
    assert getattr(event, field) == first


def test_a_recorder_of_another_site_cannot_report(participant, coordinator, site2):
    event = sae(participant, coordinator, local(dt.date(2026, 3, 8), 9, NY))
    with pytest.raises(PermissionDenied):
        sae_services.sae_report_to_sponsor(event, at=NOW, by=coordinator_at(site2))
    event.refresh_from_db()
    assert event.sponsor_reported_at is None


# --- Death asks for its SAE -----------------------------------------------------------------------


def test_death_makes_its_event_a_fatal_sae_and_links_it(participant, coordinator):
    event = sae(
        participant,
        coordinator,
        local(dt.date(2026, 3, 4), 9, NY),
        serious=False,
        seriousness_criteria=[],
    )
    died = dt.date(2026, 3, 9)
    event = sae_services.death_record(
        participant, on=died, cause="Sepsis", event=event, by=coordinator
    )

    event.refresh_from_db()
    assert (event.grade, event.outcome, event.resolved_on) == (5, Outcome.FATAL, died)
    assert event.serious and event.seriousness_criteria == ["death"]
    assert event.sponsor_report_due_at == NOW + 24 * HOUR  # aware of the death now
    assert [g.grade for g in event.gradings.all()] == [3, 5]
    participant.refresh_from_db()
    assert (participant.status, participant.off_study_on) == (Status.DIED, died)
    change = StatusChange.objects.get(participant=participant, to_status=Status.DIED)
    assert change.details == {"sae_reference": event.reference}
    assert change.reason == "Sepsis"


def test_death_adds_death_to_an_sae_and_keeps_its_running_clock(participant, coordinator):
    aware = local(dt.date(2026, 3, 8), 9, NY)
    event = sae(participant, coordinator, aware)
    event = sae_services.death_record(
        participant, on=dt.date(2026, 3, 9), cause="Sepsis", event=event, by=coordinator
    )
    assert event.seriousness_criteria == ["death", "hospitalisation"]
    assert event.sponsor_report_due_at == aware + 24 * HOUR


def test_death_refuses_another_participants_event(
    participant, protocol, site, coordinator, investigator
):
    other = Journey(site, coordinator, investigator).p
    event = sae(other, coordinator, local(dt.date(2026, 3, 8), 9, NY))
    refused(
        lambda: sae_services.death_record(
            participant, on=dt.date(2026, 3, 9), cause="Sepsis", event=event, by=coordinator
        ),
        "event",
    )
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING
    assert Grading.objects.filter(grade=5).count() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"cause": "  "}, "cause"),  # refused by the status change, after the event was changed
        ({"on": dt.date(2026, 3, 11)}, "on"),
        ({"on": dt.date(2026, 3, 3)}, "on"),  # before the event's onset
    ],
    ids=["a blank cause", "a date in the future", "a date before the event's onset"],
)
def test_a_refused_death_leaves_the_event_and_the_participant_as_they_were(
    participant, coordinator, values, field
):
    event = sae(
        participant,
        coordinator,
        local(dt.date(2026, 3, 4), 9, NY),
        serious=False,
        seriousness_criteria=[],
    )
    death = {"on": dt.date(2026, 3, 9), "cause": "Sepsis", **values}
    refused(
        lambda: sae_services.death_record(participant, event=event, by=coordinator, **death), field
    )

    event.refresh_from_db()
    assert (event.grade, event.serious, event.outcome, event.resolved_on) == (
        3,
        False,
        "not_recovered",
        None,
    )
    assert event.gradings.count() == 1
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING


# --- The clock list -----------------------------------------------------------------------------


def test_the_clock_list_is_soonest_due_first(participant, coordinator):
    later = sae(participant, coordinator, local(dt.date(2026, 3, 10), 10, NY))
    sooner = sae(participant, coordinator, local(dt.date(2026, 3, 9), 20, NY))
    clocks = selectors.sae_clocks(coordinator, NOW)
    assert [c.event for c in clocks] == [sooner, later]
    assert [c.sponsor.remaining for c in clocks] == [9 * HOUR, 23 * HOUR]
    assert clocks[0].irb.remaining is not None


@pytest.mark.parametrize("n", [3, 30])
def test_the_clock_list_reads_in_the_same_few_queries_for_3_or_30_saes(
    n, protocol, site, coordinator, investigator, frozen, django_assert_max_num_queries
):
    participants = [Journey(site, coordinator, investigator).p for _ in range(3)]
    aware = local(dt.date(2026, 3, 9), 20, NY)
    for i in range(n):
        sae(participants[i % 3], coordinator, aware + i * MINUTE)
    reader = type(coordinator).objects.get(pk=coordinator.pk)  # nothing cached on the user

    # The staff profile, the user's sites (cached on the user), then the events.
    with django_assert_max_num_queries(3):
        clocks = selectors.sae_clocks(reader, NOW)
        labels = [(c.event.reference, c.event.participant.site.code) for c in clocks]
    assert len(labels) == n
