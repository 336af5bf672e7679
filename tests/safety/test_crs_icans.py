"""CRS and ICANS episodes graded from findings (ASTCT): the episode opened at grade >= 1, every
grading kept with its findings and reasons, the infusion hold from grade 2 until grade 1 or less
or the resolution, and the refusals (nothing saved)."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from safety.models import AdverseEvent, EventKind, Grading, Outcome, Relatedness
from safety.services import crs_icans
from schedule import services
from schedule.models import InfusionHold, VisitStatus
from tests.support import D0, Journey, coordinator_at, days


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.to_treatment()  # INF1 given on Friday 20 Feb 2026 at 09:00 New York time
    return j


def crs(journey, day=D0, hour=21, *, temperature_c="38.5", hypotension="none", **kwargs):
    """CRS assessed at `hour` on `day`, recorded an hour later."""
    with journey.on(day, hour=hour + 1):
        return crs_icans.crs_assess(
            journey.p,
            temperature_c=temperature_c,
            hypotension=hypotension,
            oxygen=kwargs.pop("oxygen", "none"),
            assessed_at=journey.at(day, hour),
            by=kwargs.pop("by", journey.by),
            **kwargs,
        )


def icans(journey, day=D0, hour=21, *, ice_score=10, consciousness="awake", **kwargs):
    with journey.on(day, hour=hour + 1):
        return crs_icans.icans_assess(
            journey.p,
            ice_score=ice_score,
            consciousness=consciousness,
            assessed_at=journey.at(day, hour),
            by=journey.by,
            **kwargs,
        )


def open_holds(journey) -> list[tuple[str, str]]:
    return list(services.open_holds(journey.p).values_list("source", "reason"))


def nothing_recorded():
    assert not AdverseEvent.objects.exists()
    assert not Grading.objects.exists()
    assert not InfusionHold.objects.exists()


# --- CRS ------------------------------------------------------------------------------------------


def test_crs_with_one_vasopressor_is_grade_3_and_opens_an_episode_that_holds_infusions(journey):
    result = crs(journey, temperature_c=Decimal("39.2"), hypotension="one_vasopressor")
    assert result.grade.grade == 3
    assert result.grade.reasons == ("grade 3: hypotension needing one vasopressor",)
    event = result.event
    assert (event.kind, event.number, event.grade) == (EventKind.CRS, 1, 3)
    assert event.term == event.ctcae_term == "Cytokine release syndrome"
    assert event.onset_date == D0
    assert event.aware_at == journey.at(D0, 21)
    assert event.related_to_product == Relatedness.POSSIBLE
    assert event.recorded_by == journey.by
    # Grade 3 is not made serious: the investigator decides, and that starts the SAE clock.
    assert event.serious is False and event.sponsor_report_due_at is None
    [grading] = event.gradings.all()
    assert grading.grade == 3
    assert grading.findings == {
        "temperature_c": "39.2",
        "antipyretic_or_anticytokine": False,
        "hypotension": "one_vasopressor",
        "oxygen": "none",
    }
    assert grading.reasons == ["grade 3: hypotension needing one vasopressor"]
    assert open_holds(journey) == [(f"{journey.p.label}-AE1", "CRS grade 3")]


def test_crs_grade_1_opens_an_episode_without_a_hold(journey):
    result = crs(journey, temperature_c=38.1)
    assert result.grade.reasons == ("grade 1: fever 38.1 °C",)
    assert result.event.grade == 1
    assert open_holds(journey) == []


def test_no_fever_is_no_crs_and_nothing_is_created(journey):
    result = crs(journey, temperature_c="37.4", hypotension="fluids")
    assert result.event is None
    assert result.grade.grade == 0
    assert result.grade.reasons == (
        "grade 0: does not meet the ASTCT definition of CRS (no fever ≥ 38 °C)",
        "hypotension not needing vasopressors without fever is not graded as CRS",
    )
    nothing_recorded()


def test_an_episode_is_numbered_after_the_participants_last_event(journey):
    with journey.on(D0, hour=12):
        AdverseEvent.objects.create(
            participant=journey.p,
            number=3,
            term="Headache",
            onset_date=D0,
            grade=1,
            aware_at=journey.at(D0, 11),
            recorded_by=journey.by,
            recorded_at=journey.at(D0, 12),
        )
    assert crs(journey).event.number == 4


def test_re_grading_keeps_every_grading_and_grade_1_releases_the_hold_for_the_next_infusion(
    journey,
):
    event = crs(journey, hypotension="fluids").event
    label = journey.p.label
    with pytest.raises(ValidationError, match=rf"On hold: CRS grade 2 \({label}-AE1\), unresolved"):
        journey.infuse(2, D0 + days(7))
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED

    crs(journey, D0 + days(1), 8, hypotension="one_vasopressor", event=event)
    assert open_holds(journey) == [(f"{label}-AE1", "CRS grade 3")]
    crs(journey, D0 + days(3), 8, temperature_c="38.2", event=event)

    event.refresh_from_db()
    assert event.grade == 1
    assert list(event.gradings.values_list("grade", flat=True)) == [2, 3, 1]
    hold = InfusionHold.objects.get()
    assert (hold.release_reason, hold.released_at) == (
        "resolved to grade 1",
        journey.at(D0 + days(3), 9),
    )
    assert journey.infuse(2, D0 + days(7)).status == VisitStatus.DONE


def test_a_finding_the_grading_cannot_use_is_refused_on_its_field(journey):
    with pytest.raises(ValidationError) as refused:
        crs(journey, temperature_c="101.3")
    [message] = refused.value.message_dict["temperature_c"]
    assert "(it looks like °F)" in message
    with pytest.raises(ValidationError) as refused:
        crs(journey, oxygen="nasal")
    assert list(refused.value.message_dict) == ["oxygen"]
    nothing_recorded()


# --- ICANS ----------------------------------------------------------------------------------------


def test_icans_from_the_ice_score_holds_until_reassessed_then_the_investigator_resolves_it(
    journey,
):
    result = icans(journey, ice_score=5)
    assert result.grade.reasons == ("grade 2: ICE score 5",)
    event = result.event
    assert (event.kind, event.grade, event.ctcae_term) == (EventKind.ICANS, 2, "")
    assert event.term == "Immune effector cell-associated neurotoxicity syndrome"
    assert event.gradings.get().findings == {
        "ice_score": 5,
        "consciousness": "awake",
        "seizure": "none",
        "motor_weakness": False,
        "cerebral_edema": "none",
    }
    assert open_holds(journey) == [(f"{journey.p.label}-AE1", "ICANS grade 2")]

    # Back to normal: the grading is kept and the hold released; the event stays open (an AE's
    # grade is 1-5) until the investigator dates its resolution.
    again = icans(journey, D0 + days(2), 10, event=event)
    assert again.grade.grade == 0 and again.event == event
    assert InfusionHold.objects.get().release_reason == "resolved to grade 0"
    event.refresh_from_db()
    assert (event.grade, event.resolved_on) == (2, None)
    assert list(event.gradings.values_list("grade", flat=True)) == [2, 0]

    with journey.on(D0 + days(3)):
        crs_icans.episode_resolve(event, on=D0 + days(2), by=journey.investigator)
    event.refresh_from_db()
    assert (event.resolved_on, event.outcome) == (D0 + days(2), Outcome.RECOVERED)


def test_unarousable_without_an_ice_score_is_icans_grade_4(journey):
    result = icans(journey, ice_score=None, consciousness="unarousable", seizure="prolonged")
    assert result.grade.grade == 4
    assert result.event.grade == 4
    with pytest.raises(ValidationError) as refused:
        icans(journey, ice_score=None)
    assert list(refused.value.message_dict) == ["ice_score"]


# --- Resolution and refusals ------------------------------------------------------------------------


def test_resolving_an_episode_releases_its_hold_and_a_new_crs_is_a_new_episode(journey):
    event = crs(journey, oxygen="high_flow").event
    with journey.on(D0 + days(4)):
        crs_icans.episode_resolve(event, on=D0 + days(4), by=journey.by)
    hold = InfusionHold.objects.get()
    assert hold.release_reason == "resolved on 2026-02-24"
    with pytest.raises(ValidationError, match="a new CRS is a new episode"):
        crs(journey, D0 + days(5), event=event)
    assert crs(journey, D0 + days(5)).event.number == 2


def test_an_assessment_is_refused_before_the_last_one_or_on_another_kind_of_episode(journey):
    event = crs(journey, D0 + days(1), 10, hypotension="fluids").event
    with pytest.raises(ValidationError) as refused:
        crs(journey, D0 + days(1), 8, event=event)
    assert refused.value.message_dict == {
        "assessed_at": [f"{event.reference} was last assessed after this time."]
    }
    with pytest.raises(ValidationError) as refused:
        icans(journey, D0 + days(2), ice_score=4, event=event)
    assert list(refused.value.message_dict) == ["event"]
    with journey.on(D0, hour=12), pytest.raises(ValidationError, match="in the future"):
        crs_icans.crs_assess(
            journey.p,
            temperature_c=39,
            hypotension="none",
            oxygen="none",
            assessed_at=journey.at(D0, 13),
            by=journey.by,
        )
    assert event.gradings.count() == 1


def test_a_recorder_of_another_site_cannot_assess(journey, site2):
    with pytest.raises(PermissionDenied):
        crs(journey, by=coordinator_at(site2))
    nothing_recorded()
