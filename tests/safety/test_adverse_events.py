"""Adverse events through safety.services.adverse_events and safety.selectors: recording and its
refusals (nothing saved), numbering, re-grading with every grading kept, seriousness, resolution,
follow-up above grade 2, who may record, and what each site's staff see."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from participants.models import StaffRole
from safety import selectors
from safety.models import (
    ActionTaken,
    AdverseEvent,
    EventKind,
    Grading,
    Outcome,
    Relatedness,
    Seriousness,
)
from safety.services import adverse_events as ae
from tests.support import Journey, coordinator_at, local, make_user

NY = "America/New_York"
# Tuesday 10 March 2026, 11:00 in New York: "now" for every test unless one travels elsewhere.
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
ONSET = dt.date(2026, 3, 2)
AWARE = local(dt.date(2026, 3, 3), 9, NY)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def participant(protocol, site, coordinator, investigator, frozen):
    """Consented at S01 (New York) on Monday 5 January 2026."""
    return Journey(site, coordinator, investigator).p


@pytest.fixture
def berlin_participant(protocol, site2, frozen):
    return Journey(site2, coordinator_at(site2), None).p


def args(**overrides) -> dict:
    """A non-serious grade 2 fever, onset 2 March, the site aware on 3 March at 09:00."""
    return {
        "term": "Fever the evening after infusion",
        "ctcae_term": "Fever",
        "onset_date": ONSET,
        "grade": 2,
        "related_to_product": Relatedness.POSSIBLE,
        "related_to_leukapheresis": Relatedness.NOT_RELATED,
        "action_taken": ActionTaken.NONE,
        "outcome": Outcome.NOT_RECOVERED,
        "aware_at": AWARE,
        **overrides,
    }


def record(participant, by, **overrides) -> AdverseEvent:
    return ae.ae_record(participant, by=by, **args(**overrides))


def refused(call, field: str) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    return caught.value.message_dict[field][0]


def nothing_saved():
    assert (AdverseEvent.objects.count(), Grading.objects.count()) == (0, 0)


# --- Recording --------------------------------------------------------------------------------


def test_an_event_is_recorded_with_its_first_grading(participant, coordinator):
    event = record(participant, coordinator)

    event.refresh_from_db()
    assert (event.number, event.term, event.grade, event.serious) == (
        1,
        "Fever the evening after infusion",
        2,
        False,
    )
    assert event.reference == f"{participant.label}-AE1"
    assert (event.recorded_by, event.recorded_at) == (coordinator, NOW)
    assert event.sponsor_report_due_at is None and event.irb_report_due_on is None
    (grading,) = event.gradings.all()
    assert (grading.grade, grading.assessed_at, grading.recorded_by) == (2, AWARE, coordinator)
    assert grading.reasons == ["grade 2 as assessed by the investigator"]
    assert event.history.first().history_change_reason == "recorded: grade 2"


def test_events_are_numbered_per_participant(participant, berlin_participant, coordinator, site2):
    numbers = [record(participant, coordinator).number for _ in range(3)]
    berlin = record(berlin_participant, coordinator_at(site2))

    assert numbers == [1, 2, 3]
    assert berlin.number == 1
    assert [e.reference for e in participant.adverse_events.all()] == [
        f"{participant.label}-AE{n}" for n in (1, 2, 3)
    ]


def test_a_serious_event_stores_its_sponsor_and_irb_clocks(participant, coordinator):
    event = record(
        participant,
        coordinator,
        grade=3,
        serious=True,
        seriousness_criteria=[Seriousness.HOSPITALISATION, Seriousness.LIFE_THREATENING],
    )

    assert event.sponsor_report_due_at == AWARE + dt.timedelta(hours=24)
    # Tuesday 3 March + 5 business days = Tuesday 10 March.
    assert event.irb_report_due_on == dt.date(2026, 3, 10)
    # Stored in ICH E2A's order, whatever order they were ticked in.
    assert event.seriousness_criteria == ["life_threatening", "hospitalisation"]


def test_an_onset_on_the_sites_today_is_accepted_though_it_is_tomorrow_in_utc(
    participant, coordinator
):
    late_evening = local(dt.date(2026, 3, 10), 23, NY)  # 04:00 UTC on 11 March
    with time_machine.travel(late_evening, tick=False):
        event = record(
            participant, coordinator, onset_date=dt.date(2026, 3, 10), aware_at=late_evening
        )
        refused(
            lambda: record(participant, coordinator, onset_date=dt.date(2026, 3, 11)), "onset_date"
        )
    assert event.onset_date == dt.date(2026, 3, 10)


# One row per rule: what is wrong, the arguments that say it, and the field refused.
# fmt: off
RECORD_REFUSALS = [
    ("a blank term", {"term": "   "}, "term"),
    ("a term over 200 characters", {"term": "x" * 201}, "term"),
    ("a CTCAE term not in the list", {"ctcae_term": "Feeling off"}, "ctcae_term"),
    ("grade 0", {"grade": 0}, "grade"),
    ("grade 6", {"grade": 6}, "grade"),
    ("an onset in the future", {"onset_date": dt.date(2026, 3, 11)}, "onset_date"),
    ("an onset before consent", {"onset_date": dt.date(2026, 1, 4)}, "onset_date"),
    ("awareness without a time zone", {"aware_at": dt.datetime(2026, 3, 3, 9)}, "aware_at"),
    ("awareness in the future", {"aware_at": local(dt.date(2026, 3, 10), 12, NY)}, "aware_at"),
    ("awareness before the onset", {"aware_at": local(dt.date(2026, 3, 1), 23, NY)}, "aware_at"),
    ("serious without a criterion", {"serious": True}, "seriousness_criteria"),
    ("a criterion on a non-serious event", {"seriousness_criteria": ["hospitalisation"]}, "serious"),
    ("an unknown criterion", {"serious": True, "seriousness_criteria": ["scary"]}, "seriousness_criteria"),
    ("grade 5 with an outcome other than fatal", {"grade": 5, "serious": True, "seriousness_criteria": ["death"]}, "outcome"),
    ("grade 5 without 'results in death'", {"grade": 5, "serious": True, "seriousness_criteria": ["hospitalisation"], "outcome": Outcome.FATAL}, "seriousness_criteria"),
    ("a fatal outcome below grade 5", {"grade": 4, "outcome": Outcome.FATAL}, "grade"),
    ("'results in death' below grade 5", {"grade": 4, "serious": True, "seriousness_criteria": ["death"]}, "grade"),
    ("an unknown relatedness to the product", {"related_to_product": "maybe"}, "related_to_product"),
    ("an unknown relatedness to leukapheresis", {"related_to_leukapheresis": "maybe"}, "related_to_leukapheresis"),
    ("an unknown action taken", {"action_taken": "ignored"}, "action_taken"),
    ("an unknown outcome", {"outcome": "better"}, "outcome"),
    ("an unknown kind", {"kind": "rash"}, "kind"),
    ("'expected' that is not yes, no or unknown", {"expected": "yes"}, "expected"),
]
# fmt: on


@pytest.mark.parametrize(
    ("overrides", "field"), [r[1:] for r in RECORD_REFUSALS], ids=[r[0] for r in RECORD_REFUSALS]
)
def test_recording_refuses(participant, coordinator, overrides, field):
    refused(lambda: record(participant, coordinator, **overrides), field)
    nothing_saved()


def test_a_recorder_of_another_site_is_refused_and_nothing_is_saved(participant, site2):
    with pytest.raises(PermissionDenied):
        record(participant, coordinator_at(site2))
    nothing_saved()


def test_a_study_manager_reads_but_does_not_record(participant, manager):
    with pytest.raises(PermissionDenied):
        record(participant, manager)
    nothing_saved()


# --- Re-grading -------------------------------------------------------------------------------


def test_regrading_keeps_every_grading_with_who_when_and_why(
    participant, coordinator, investigator
):
    event = record(participant, coordinator, grade=2)
    worse = local(dt.date(2026, 3, 5), 8, NY)
    better = local(dt.date(2026, 3, 8), 16, NY)
    ae.ae_regrade(
        event, grade=3, assessed_at=worse, reason="Needed IV antibiotics", by=investigator
    )
    event = ae.ae_regrade(event, grade=1, assessed_at=better, reason="Afebrile", by=coordinator)

    assert event.grade == 1
    rows = [(g.grade, g.assessed_at, g.recorded_by, g.reasons) for g in event.gradings.all()]
    assert rows == [
        (2, AWARE, coordinator, ["grade 2 as assessed by the investigator"]),
        (3, worse, investigator, ["grade 3: Needed IV antibiotics", "re-graded from 2 by invest"]),
        (1, better, coordinator, ["grade 1: Afebrile", "re-graded from 3 by coord"]),
    ]
    reasons = [h.history_change_reason for h in event.history.order_by("history_id")]
    assert reasons == [
        "recorded: grade 2",
        "re-graded 2 → 3: Needed IV antibiotics",
        "re-graded 3 → 1: Afebrile",
    ]


def regrade_args(**overrides) -> dict:
    return {
        "grade": 3,
        "assessed_at": local(dt.date(2026, 3, 5), 8, NY),
        "reason": "Needed IV antibiotics",
        **overrides,
    }


# fmt: off
REGRADE_REFUSALS = [
    ("an unchanged grade", {"grade": 2}, "grade"),
    ("grade 5, which is recorded with the death", {"grade": 5}, "grade"),
    ("a time before the previous grading", {"assessed_at": local(dt.date(2026, 3, 3), 8, NY)}, "assessed_at"),
    ("a time in the future", {"assessed_at": local(dt.date(2026, 3, 10), 12, NY)}, "assessed_at"),
    ("a blank reason", {"reason": "  "}, "reason"),
]
# fmt: on


@pytest.mark.parametrize(
    ("overrides", "field"), [r[1:] for r in REGRADE_REFUSALS], ids=[r[0] for r in REGRADE_REFUSALS]
)
def test_regrading_refuses(participant, coordinator, overrides, field):
    event = record(participant, coordinator, grade=2)
    refused(lambda: ae.ae_regrade(event, by=coordinator, **regrade_args(**overrides)), field)
    event.refresh_from_db()
    assert (event.grade, event.gradings.count(), event.history.count()) == (2, 1, 1)


def test_a_resolved_event_is_not_regraded(participant, coordinator):
    event = record(participant, coordinator, grade=2)
    ae.ae_resolve(event, on=dt.date(2026, 3, 6), outcome=Outcome.RECOVERED, by=coordinator)
    refused(lambda: ae.ae_regrade(event, by=coordinator, **regrade_args()), "grade")
    assert event.gradings.count() == 1


# --- Follow-up above grade 2 --------------------------------------------------------------------


def test_an_open_event_is_followed_up_at_grade_3_but_not_at_grade_2(participant, coordinator):
    mild = record(participant, coordinator, grade=2)
    severe = record(participant, coordinator, grade=3, ctcae_term="Neutrophil count decreased")

    assert list(AdverseEvent.objects.needs_follow_up()) == [severe]
    assert list(selectors.open_above_grade_2(coordinator)) == [severe]
    assert mild not in selectors.open_above_grade_2(coordinator)


def test_follow_up_ends_when_the_event_improves_to_grade_2_or_resolves(participant, coordinator):
    improves = record(participant, coordinator, grade=3)
    resolves = record(participant, coordinator, grade=4)
    at = local(dt.date(2026, 3, 6), 10, NY)
    ae.ae_regrade(improves, grade=2, assessed_at=at, reason="Improving", by=coordinator)
    ae.ae_resolve(resolves, on=dt.date(2026, 3, 7), outcome=Outcome.RECOVERED, by=coordinator)

    assert list(selectors.open_above_grade_2(coordinator)) == []


@pytest.mark.parametrize("term", ["Lymphocyte count decreased", "Alopecia"])
def test_lymphopenia_and_alopecia_are_not_followed_up_above_grade_2(participant, coordinator, term):
    record(participant, coordinator, grade=3, ctcae_term=term)
    assert list(selectors.open_above_grade_2(coordinator)) == []


# --- Seriousness ----------------------------------------------------------------------------------


def test_an_event_that_becomes_serious_starts_its_clock_from_that_awareness(
    participant, coordinator
):
    event = record(participant, coordinator, grade=3)
    admitted = local(dt.date(2026, 3, 5), 14, NY)
    event = ae.ae_update_seriousness(
        event,
        serious=True,
        seriousness_criteria=["hospitalisation"],
        aware_at=admitted,
        by=coordinator,
    )

    assert event.serious and event.seriousness_criteria == ["hospitalisation"]
    assert event.aware_at == AWARE  # the first awareness of the event stays
    assert event.sponsor_report_due_at == admitted + dt.timedelta(hours=24)
    assert event.irb_report_due_on == dt.date(2026, 3, 12)
    reason = event.history.first().history_change_reason
    assert reason == f"became serious (hospitalisation); SAE clock from {admitted.isoformat()}"


def test_becoming_serious_without_a_time_starts_the_clock_now(participant, coordinator):
    event = record(participant, coordinator)
    event = ae.ae_update_seriousness(
        event, serious=True, seriousness_criteria=["important_medical_event"], by=coordinator
    )
    assert event.sponsor_report_due_at == NOW + dt.timedelta(hours=24)


def test_an_event_no_longer_serious_leaves_the_sae_clocks(participant, coordinator):
    event = record(participant, coordinator, serious=True, seriousness_criteria=["hospitalisation"])
    event = ae.ae_update_seriousness(event, serious=False, seriousness_criteria=[], by=coordinator)

    assert (event.serious, event.sponsor_report_due_at, event.irb_report_due_on) == (
        False,
        None,
        None,
    )
    assert selectors.sae_clocks(coordinator, NOW) == []
    assert event.history.first().history_change_reason == "no longer serious"


# fmt: off
SERIOUSNESS_REFUSALS = [
    ("serious without a criterion", {"serious": True, "seriousness_criteria": []}, "seriousness_criteria"),
    ("awareness before the site knew of the event", {"serious": True, "seriousness_criteria": ["hospitalisation"], "aware_at": local(dt.date(2026, 3, 3), 8, NY)}, "aware_at"),
    ("awareness in the future", {"serious": True, "seriousness_criteria": ["hospitalisation"], "aware_at": local(dt.date(2026, 3, 10), 12, NY)}, "aware_at"),
    ("'results in death' on an event below grade 5", {"serious": True, "seriousness_criteria": ["death"]}, "seriousness_criteria"),
    ("a time of awareness when it does not become serious", {"serious": False, "seriousness_criteria": [], "aware_at": AWARE}, "aware_at"),
    ("nothing changed", {"serious": False, "seriousness_criteria": []}, "seriousness_criteria"),
]
# fmt: on


@pytest.mark.parametrize(
    ("overrides", "field"),
    [r[1:] for r in SERIOUSNESS_REFUSALS],
    ids=[r[0] for r in SERIOUSNESS_REFUSALS],
)
def test_changing_seriousness_refuses(participant, coordinator, overrides, field):
    event = record(participant, coordinator, grade=3)
    refused(lambda: ae.ae_update_seriousness(event, by=coordinator, **overrides), field)
    event.refresh_from_db()
    assert (event.serious, event.sponsor_report_due_at, event.history.count()) == (False, None, 1)


# --- Resolution ---------------------------------------------------------------------------------


def test_an_event_resolves_with_its_date_and_outcome(participant, coordinator):
    event = record(participant, coordinator, grade=3)
    event = ae.ae_resolve(
        event, on=dt.date(2026, 3, 9), outcome=Outcome.RECOVERED_WITH_SEQUELAE, by=coordinator
    )
    assert (event.resolved_on, event.outcome) == (dt.date(2026, 3, 9), "recovered_with_sequelae")
    assert list(AdverseEvent.objects.open()) == []


RESOLVE_REFUSALS = [
    ("a date before the onset", {"on": dt.date(2026, 3, 1)}, "on"),
    ("a date in the future", {"on": dt.date(2026, 3, 11)}, "on"),
    ("the outcome 'not recovered'", {"outcome": Outcome.NOT_RECOVERED}, "outcome"),
    ("a fatal outcome below grade 5", {"outcome": Outcome.FATAL}, "outcome"),
]


@pytest.mark.parametrize(
    ("overrides", "field"), [r[1:] for r in RESOLVE_REFUSALS], ids=[r[0] for r in RESOLVE_REFUSALS]
)
def test_resolving_refuses(participant, coordinator, overrides, field):
    event = record(participant, coordinator, grade=3)
    values = {"on": dt.date(2026, 3, 9), "outcome": Outcome.RECOVERED, **overrides}
    refused(lambda: ae.ae_resolve(event, by=coordinator, **values), field)
    event.refresh_from_db()
    assert (event.resolved_on, event.outcome) == (None, Outcome.NOT_RECOVERED)


def test_an_event_resolves_once(participant, coordinator):
    event = record(participant, coordinator)
    ae.ae_resolve(event, on=dt.date(2026, 3, 6), outcome=Outcome.RECOVERED, by=coordinator)
    refused(
        lambda: ae.ae_resolve(
            event, on=dt.date(2026, 3, 9), outcome=Outcome.RECOVERED, by=coordinator
        ),
        "on",
    )
    event.refresh_from_db()
    assert event.resolved_on == dt.date(2026, 3, 6)


# --- What each site sees ---------------------------------------------------------------------------


@pytest.fixture
def two_sites(participant, berlin_participant, coordinator, site2):
    s01 = record(
        participant, coordinator, grade=3, serious=True, seriousness_criteria=["hospitalisation"]
    )
    s02 = record(
        berlin_participant,
        coordinator_at(site2),
        grade=3,
        serious=True,
        seriousness_criteria=["hospitalisation"],
        kind=EventKind.CRS,
        ctcae_term="Cytokine release syndrome",
    )
    return s01, s02


def test_a_coordinator_of_s01_never_sees_s02_events(two_sites, coordinator, site2):
    s01, s02 = two_sites
    assert list(selectors.events_visible_to(coordinator)) == [s01]
    assert list(selectors.open_above_grade_2(coordinator)) == [s01]
    assert [c.event for c in selectors.sae_clocks(coordinator, NOW)] == [s01]
    assert list(selectors.ae_listing(coordinator)) == [s01]
    assert list(selectors.ae_listing(coordinator, site=site2)) == []


def test_a_study_manager_sees_every_site(two_sites, manager, site2):
    s01, s02 = two_sites
    assert list(selectors.ae_listing(manager)) == [s01, s02]
    assert list(selectors.ae_listing(manager, site=site2)) == [s02]


def test_the_listing_filters_by_seriousness_grade_and_open(participant, coordinator):
    mild = record(participant, coordinator, grade=1)
    severe = record(
        participant, coordinator, grade=3, serious=True, seriousness_criteria=["hospitalisation"]
    )
    resolved = record(participant, coordinator, grade=3)
    ae.ae_resolve(resolved, on=dt.date(2026, 3, 4), outcome=Outcome.RECOVERED, by=coordinator)

    assert list(selectors.ae_listing(coordinator, serious=True)) == [severe]
    assert list(selectors.ae_listing(coordinator, serious=False)) == [mild, resolved]
    assert list(selectors.ae_listing(coordinator, grade=3)) == [severe, resolved]
    assert list(selectors.ae_listing(coordinator, open_only=True)) == [mild, severe]


def make_events(n: int, participants, by) -> None:
    for i in range(n):
        aware = AWARE + dt.timedelta(minutes=i)
        record(
            participants[i % len(participants)],
            by,
            grade=3,
            serious=True,
            seriousness_criteria=["hospitalisation"],
            aware_at=aware,
        )


@pytest.mark.parametrize("n", [3, 30])
def test_the_listing_reads_in_the_same_few_queries_for_3_or_30_events(
    n, protocol, site, coordinator, investigator, frozen, django_assert_max_num_queries
):
    participants = [Journey(site, coordinator, investigator).p for _ in range(3)]
    make_events(n, participants, coordinator)
    reader = type(coordinator).objects.get(pk=coordinator.pk)  # nothing cached on the user

    # The staff profile, the user's sites (cached on the user), then the events.
    with django_assert_max_num_queries(3):
        rows = [(e.reference, e.participant.site.code) for e in selectors.ae_listing(reader)]
    assert len(rows) == n


# --- Admin --------------------------------------------------------------------------------------


def test_the_admin_lists_only_the_sites_events_and_edits_nothing(client, two_sites, coordinator):
    s01, s02 = two_sites
    coordinator.user_permissions.set(Permission.objects.filter(content_type__app_label="safety"))
    client.force_login(coordinator)

    listing = client.get(reverse("admin:safety_adverseevent_changelist"))
    assert listing.status_code == 200
    assert s01.reference in listing.content.decode()
    assert s02.reference not in listing.content.decode()
    page = client.get(reverse("admin:safety_adverseevent_change", args=[s01.pk]))
    assert (
        page.status_code == 200
        and "grade 3 as assessed by the investigator" in page.content.decode()
    )
    # Another site's event is no event at all: the same 404 as the dashboard.
    assert client.get(reverse("admin:safety_adverseevent_change", args=[s02.pk])).status_code == 404
    assert client.get(reverse("admin:safety_adverseevent_add")).status_code == 403


def test_an_investigator_of_another_site_cannot_record_here(participant, site2):
    other = make_user("invest-s02", StaffRole.INVESTIGATOR, [site2])
    with pytest.raises(PermissionDenied):
        record(participant, other)
    nothing_saved()
