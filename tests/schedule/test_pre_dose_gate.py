"""The pre-dose gate of every infusion: each reason listed at once (pre-dose items, open holds),
and an investigator's written override of it; infusion holds opened and released per source."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from participants.models import StaffRole, Status
from schedule import services
from schedule.models import Assessment, AssessmentStatus, InfusionHold, PreDoseOverride, VisitStatus
from tests.support import APHERESIS_ON, D0, Journey, days, make_user, record_pre_dose

INF2_DAY = D0 + days(7)
HINT = "An investigator of the site may give it anyway with a written reason."


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    j = Journey(site, coordinator, investigator)
    j.to_treatment()
    return j


def fresh_pre_dose(journey, n=2, day=INF2_DAY, *, abnormal=""):
    """Every pre-dose item of INF<n> recorded normal at 07:30 on the infusion day."""
    with journey.on(day, hour=8):
        record_pre_dose(journey.visit(f"INF{n}"), journey.at(day, 7, 30), journey.by, abnormal)


def give(journey, n=2, day=INF2_DAY, *, by=None, override_reason=""):
    """INF<n> recorded as given at 09:00 on `day` (recorded at noon)."""
    with journey.on(day, hour=12):
        return services.visit_record_done(
            journey.visit(f"INF{n}"),
            actual_date=day,
            started_at=journey.at(day, 9),
            dose="1e6 cells/kg",
            lot="L-2",
            by=by or journey.by,
            override_reason=override_reason,
        )


def refusal(journey, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        give(journey, **kwargs)
    return refused.value


def item(journey, code, n=2):
    return journey.visit(f"INF{n}").assessments.get(definition__code=code)


def unrecord(journey, code):
    Assessment.objects.filter(pk=item(journey, code).pk).update(
        status=AssessmentStatus.PENDING, completed_at=None, result=""
    )


def record_at(journey, code, at: dt.datetime):
    """A typed result (not CBC or IgG, which are entered as lab values with units), recorded again
    at another time: a changed result, with its reason."""
    with journey.on(INF2_DAY, hour=8):
        services.assessment_record(
            item(journey, code),
            result="normal",
            is_abnormal=False,
            completed_at=at,
            by=journey.by,
            reason="Result time corrected",
        )


def assert_not_given(journey):
    assert journey.visit("INF2").status == VisitStatus.SCHEDULED
    assert journey.refresh().infusions_received == 1
    assert not PreDoseOverride.objects.exists()


def crs_hold(journey, reason="CRS grade 2"):
    with journey.on(D0 + days(1)):
        return services.hold_open(
            journey.p, source=f"{journey.p.label}-AE2", reason=reason, by=journey.by
        )


# --- Holds ---------------------------------------------------------------------------------------


def test_a_hold_opened_twice_is_one_hold_with_the_latest_reason_until_released(journey):
    first = crs_hold(journey, "CRS grade 2")
    again = crs_hold(journey, "CRS grade 3")
    assert again.pk == first.pk
    assert list(services.open_holds(journey.p).values_list("reason", flat=True)) == ["CRS grade 3"]
    with journey.on(D0 + days(3)):
        released = services.hold_release(
            journey.p, source=first.source, reason="resolved to grade 1", by=journey.by
        )
        assert released.released_at == journey.at(D0 + days(3), 18)
        assert released.release_reason == "resolved to grade 1"
        assert (
            services.hold_release(journey.p, source=first.source, reason="again", by=journey.by)
            is None
        )
    assert not services.open_holds(journey.p).exists()
    crs_hold(journey, "CRS grade 2")  # a later episode of the same source is a new hold
    assert InfusionHold.objects.filter(participant=journey.p).count() == 2


def test_releasing_a_source_that_is_not_held_changes_nothing(journey):
    with journey.on(D0 + days(1)):
        assert services.hold_release(journey.p, source="nothing", reason="r", by=journey.by) is None
    assert not InfusionHold.objects.exists()


def test_a_hold_needs_a_reason_and_a_recorder_of_the_site(journey, manager):
    with journey.on(D0 + days(1)):
        with pytest.raises(ValidationError) as refused:
            services.hold_open(journey.p, source="S", reason="  ", by=journey.by)
        assert "reason" in refused.value.message_dict
        with pytest.raises(PermissionDenied):
            services.hold_open(journey.p, source="S", reason="r", by=manager)
    assert not InfusionHold.objects.exists()


# --- The gate refuses, listing every reason ---------------------------------------------------------


def test_a_complete_fresh_set_of_pre_dose_items_lets_the_infusion_through(journey):
    fresh_pre_dose(journey)
    assert give(journey).status == VisitStatus.DONE
    assert journey.refresh().infusions_received == 2
    assert not PreDoseOverride.objects.exists()


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("missing", "CBC not recorded"),
        ("stale", "CHEM older than 72 h"),
        ("abnormal", "INFECT abnormal (abnormal)"),
        ("yesterday", "VS_PRE not done on the infusion day"),
    ],
)
def test_each_pre_dose_problem_on_its_own_refuses_the_infusion(journey, setup, problem):
    fresh_pre_dose(journey, abnormal="INFECT" if setup == "abnormal" else "")
    if setup == "missing":
        unrecord(journey, "CBC")
    elif setup == "stale":
        record_at(journey, "CHEM", journey.at(INF2_DAY, 9) - dt.timedelta(hours=72, minutes=1))
    elif setup == "yesterday":
        record_at(journey, "VS_PRE", journey.at(INF2_DAY - days(1), 20))
    message = refusal(journey).messages[0]
    assert message == (
        f"{journey.p.label} INF2 cannot be recorded as given. Pre-dose safety items: {problem}. "
        + HINT
    )
    assert_not_given(journey)


def test_pre_dose_results_exactly_72_hours_old_still_count_at_a_later_infusion(journey):
    fresh_pre_dose(journey)
    record_at(journey, "CHEM", journey.at(INF2_DAY, 9) - dt.timedelta(hours=72))
    assert give(journey).status == VisitStatus.DONE


def test_an_open_crs_grade_2_hold_refuses_the_infusion(journey):
    fresh_pre_dose(journey)
    crs_hold(journey)
    message = refusal(journey).messages[0]
    label = journey.p.label
    assert message == (
        f"{label} INF2 cannot be recorded as given. "
        f"On hold: CRS grade 2 ({label}-AE2), unresolved. {HINT}"
    )
    assert_not_given(journey)


def test_every_problem_is_listed_at_once(journey):
    fresh_pre_dose(journey, abnormal="INFECT")
    unrecord(journey, "CBC")
    record_at(journey, "CHEM", journey.at(INF2_DAY - days(4), 8))
    crs_hold(journey)
    with journey.on(INF2_DAY, hour=8):
        problems = services.pre_dose_problems(journey.visit("INF2"), journey.at(INF2_DAY, 9))
    assert problems == [
        "CBC not recorded",
        "CHEM older than 72 h",
        "INFECT abnormal (abnormal)",
        f"on hold: CRS grade 2 ({journey.p.label}-AE2), unresolved",
    ]
    message = refusal(journey).messages[0]
    assert (
        "Pre-dose safety items: CBC not recorded; CHEM older than 72 h; INFECT abnormal (abnormal). "
        f"On hold: CRS grade 2 ({journey.p.label}-AE2), unresolved. {HINT}"
    ) in message


def test_crs_icans_abnormal_after_the_previous_infusion_is_listed_with_the_other_holds(journey):
    fresh_pre_dose(journey)
    crs = item(journey, "CRS_ICANS", n=1)
    with journey.on(D0, hour=21):
        services.assessment_record(
            crs,
            result="CRS grade 2",
            is_abnormal=True,
            completed_at=journey.at(D0, 20),
            by=journey.by,
            reason="Re-assessed: CRS grade 2",
        )
    crs_hold(journey)
    message = refusal(journey).messages[0]
    assert (
        f"On hold: CRS grade 2 ({journey.p.label}-AE2), unresolved; CRS_ICANS after INF1 is "
        "abnormal (CRS grade 2), until it is recorded again as normal (grade 1 or less)."
    ) in message


# --- An investigator's override -----------------------------------------------------------------


def test_an_investigator_of_the_site_gives_it_anyway_and_the_override_is_kept(journey):
    fresh_pre_dose(journey)
    unrecord(journey, "IGG")
    crs_hold(journey)
    reason = "IgG sample lost; CRS resolved clinically, discussed with the medical monitor"
    visit = give(journey, by=journey.investigator, override_reason=f"  {reason} ")
    assert visit.status == VisitStatus.DONE
    assert journey.refresh().infusions_received == 2
    override = PreDoseOverride.objects.get(visit=visit)
    assert override.problems == [
        "IGG not recorded",
        f"on hold: CRS grade 2 ({journey.p.label}-AE2), unresolved",
    ]
    assert override.reason == reason
    assert override.overridden_by == journey.investigator
    assert override.overridden_at == journey.at(INF2_DAY, 12)


def test_the_first_infusion_can_be_given_over_the_gate_by_an_investigator(
    protocol, site, coordinator, investigator
):
    journey = Journey(site, coordinator, investigator)
    journey.screening_visit()
    journey.enroll()
    journey.plan(D0)
    journey.apheresis(APHERESIS_ON)
    with journey.on(D0, hour=8):
        record_pre_dose(journey.visit("INF1"), journey.at(D0, 7), coordinator)
    Assessment.objects.filter(pk=item(journey, "CBC", n=1).pk).update(
        is_abnormal=True, result="ANC 0.9"
    )
    with journey.on(D0, hour=12), pytest.raises(ValidationError, match="CBC abnormal"):
        services.visit_record_done(
            journey.visit("INF1"),
            actual_date=D0,
            started_at=journey.at(D0, 9),
            dose="d",
            lot="l",
            by=coordinator,
        )
    assert journey.status() == Status.APHERESIS_DONE
    with journey.on(D0, hour=12):
        services.visit_record_done(
            journey.visit("INF1"),
            actual_date=D0,
            started_at=journey.at(D0, 9),
            dose="d",
            lot="l",
            by=investigator,
            override_reason="ANC 0.9 stable for a month; agreed with the medical monitor",
        )
    assert journey.status() == Status.IN_TREATMENT
    assert PreDoseOverride.objects.get().problems == ["CBC abnormal (ANC 0.9)"]


def test_a_coordinators_override_is_refused_and_nothing_is_saved(journey):
    fresh_pre_dose(journey)
    unrecord(journey, "CBC")
    error = refusal(journey, by=journey.by, override_reason="investigator said so on the phone")
    [message] = error.message_dict["override_reason"]
    assert message.startswith(
        f"Only an investigator of site S01 may give INF2 over the pre-dose gate. "
        f"{journey.p.label} INF2 cannot be recorded as given. Pre-dose safety items: CBC not "
        "recorded."
    )
    assert_not_given(journey)


def test_an_administrator_without_the_investigator_role_cannot_override(journey):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    fresh_pre_dose(journey)
    unrecord(journey, "CBC")
    error = refusal(journey, by=admin, override_reason="urgent")
    assert "Only an investigator of site S01" in error.message_dict["override_reason"][0]
    assert_not_given(journey)


def test_an_investigator_of_another_site_is_refused(journey, site2, manager):
    elsewhere = make_user("invest-s02", StaffRole.INVESTIGATOR, [site2])
    fresh_pre_dose(journey)
    unrecord(journey, "CBC")
    with pytest.raises(PermissionDenied):  # may not record at S01 at all
        give(journey, by=elsewhere, override_reason="urgent")
    # Whoever calls the gate itself, it asks for an investigator of the participant's site.
    for user in (elsewhere, manager):
        with journey.on(INF2_DAY, hour=12), pytest.raises(ValidationError) as refused:
            services.gate(
                journey.visit("INF2"),
                journey.at(INF2_DAY, 9),
                override_reason="urgent",
                by=user,
            )
        assert "override_reason" in refused.value.message_dict
    assert_not_given(journey)


def test_a_blank_override_reason_is_refused_on_its_field(journey):
    fresh_pre_dose(journey)
    unrecord(journey, "CBC")
    error = refusal(journey, by=journey.investigator, override_reason=" \n ")
    assert error.message_dict == {
        "override_reason": ["Write why INF2 is given over the pre-dose gate."]
    }
    assert_not_given(journey)


def test_without_problems_an_override_reason_writes_no_override(journey):
    fresh_pre_dose(journey)
    give(journey, by=journey.investigator, override_reason="just in case")
    assert not PreDoseOverride.objects.exists()


def test_an_override_reason_on_a_visit_without_a_gate_is_refused(journey):
    with journey.on(INF2_DAY), pytest.raises(ValidationError) as refused:
        services.visit_record_done(
            journey.visit("EOT"),
            actual_date=INF2_DAY,
            by=journey.investigator,
            override_reason="x",
        )
    assert refused.value.message_dict == {
        "override_reason": ["EOT is not an infusion: it has no pre-dose gate."]
    }
