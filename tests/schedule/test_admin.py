"""The Django admin as coordinators use it: forms that call the services, clear refusals,
nothing half-saved, status never edited by hand, each site sees only its own participants."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from participants.models import Participant, StaffRole, Status, StatusChange
from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus
from tests.support import PASSWORD, UTC, all_met, consent, make_user

TODAY = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def coordinator_client(client, coordinator):
    coordinator.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["participants", "schedule"])
    )
    client.force_login(coordinator)
    return client


@pytest.fixture
def investigator_client(client, investigator):
    investigator.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["participants", "schedule"])
    )
    client.force_login(investigator)
    return client


@pytest.fixture
def participant(protocol, site, coordinator):
    return consent(site, coordinator, dt.date(2026, 3, 2))


def consent_post(site, **overrides):
    data = {
        "site": site.pk,
        "consent_on": "2026-03-09",
        "consent_time": "09:30",
        "consent_form_version": "ICF v2.0",
        "age_at_consent": "35",
        "screening_number": "",
        "rescreen_of": "",
    }
    return {**data, **overrides}


def test_adding_a_participant_registers_consent_and_lays_out_screening_visits(
    coordinator_client, protocol, site
):
    response = coordinator_client.post(
        reverse("admin:participants_participant_add"), consent_post(site)
    )
    participant = Participant.objects.get()
    assert response.status_code == 302
    assert participant.status == Status.SCREENING
    assert participant.consent_date == dt.date(2026, 3, 9)
    codes = list(participant.visits.values_list("definition__code", flat=True))
    assert codes == ["SCR", "APH"]
    assert StatusChange.objects.filter(participant=participant, to_status=Status.SCREENING).exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("consent_on", "2026-02-30", "Enter a real calendar date, e.g. 2026-03-10"),
        ("consent_on", "2999-01-01", "Enter a date between 2020-01-01 and"),
        ("screening_number", "=1+1", "Use letters, digits, - or /, e.g. SCR-014"),
        ("consent_on", "2026-03-20", "in the future"),
        ("age_at_consent", "17", "Participants must be 18 or older at consent."),
        ("consent_form_version", "", "This field is required"),
    ],
)
def test_bad_consent_input_gets_a_message_and_saves_nothing(
    coordinator_client, protocol, site, field, value, message
):
    response = coordinator_client.post(
        reverse("admin:participants_participant_add"), consent_post(site, **{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Participant.objects.count() == 0
    assert Visit.objects.count() == 0


def enroll_post(investigator, **answers):
    data = {"assessed_on": "2026-03-09", "signed_off_by": investigator.pk, "password": PASSWORD}
    for code, met in all_met().items():
        data[f"crit_{code}"] = "yes" if met else "no"
    data.update(answers)
    return data


def test_enrollment_with_a_missing_criterion_is_refused_naming_it(
    investigator_client, participant, investigator
):
    data = enroll_post(investigator)
    del data["crit_EX_PREG"]
    url = reverse("admin:participants_participant_action", args=[participant.pk, "enroll"])
    response = investigator_client.post(url, data)
    assert response.context["form"].errors["crit_EX_PREG"] == ["Answer this criterion."]
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING
    assert participant.study_id is None


def test_enrollment_of_an_ineligible_participant_names_the_failing_criteria(
    investigator_client, participant, investigator
):
    url = reverse("admin:participants_participant_action", args=[participant.pk, "enroll"])
    response = investigator_client.post(url, enroll_post(investigator, crit_EX_PREG="yes"))
    body = response.content.decode()
    assert "Not eligible, enrollment refused" in body
    assert "EX_PREG applies" in body
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING


def test_enrollment_through_the_admin_assigns_a_study_id(
    investigator_client, participant, investigator
):
    url = reverse("admin:participants_participant_action", args=[participant.pk, "enroll"])
    response = investigator_client.post(url, enroll_post(investigator))
    assert response.status_code == 302
    participant.refresh_from_db()
    assert participant.status == Status.ENROLLED
    assert participant.study_id == "S01-001"


def test_a_coordinator_cannot_sign_off_eligibility_for_the_investigator(
    coordinator_client, participant, investigator, coordinator
):
    url = reverse("admin:participants_participant_action", args=[participant.pk, "enroll"])
    # The coordinator's form has no signature: their checklist is kept as a draft, unsigned.
    assert "password" not in coordinator_client.get(url).context["form"].fields
    response = coordinator_client.post(url, enroll_post(investigator))
    assert response.status_code == 302
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING
    checklist = participant.eligibility
    assert checklist.signed_at is None and checklist.prepared_by == coordinator


def test_planning_the_first_infusion_before_consent_is_refused(
    coordinator_client, participant, investigator, coordinator
):
    from schedule import services

    services.participant_enroll(
        participant,
        answers=all_met(),
        assessed_on=dt.date(2026, 3, 9),
        signed_off_by=investigator,
        by=investigator,
        password=PASSWORD,
    )
    url = reverse("admin:participants_participant_action", args=[participant.pk, "plan-infusion"])
    response = coordinator_client.post(url, {"planned_on": "2026-03-01", "reason": ""})
    assert "must come after the consent date (2026-03-02)" in response.content.decode()
    assert not participant.visits.filter(definition__code="INF1").exists()

    response = coordinator_client.post(url, {"planned_on": "2026-05-01", "reason": ""})
    assert "at most 59" in response.content.decode()
    assert not participant.visits.filter(definition__code="INF1").exists()


def test_visit_done_in_the_future_is_refused_and_nothing_changes(coordinator_client, participant):
    scr = participant.visits.get(definition__code="SCR")
    url = reverse("admin:schedule_visit_done", args=[scr.pk])
    response = coordinator_client.post(url, {"actual_date": "2026-03-11"})
    assert "is in the future" in response.content.decode()
    scr.refresh_from_db()
    assert scr.status == VisitStatus.SCHEDULED

    response = coordinator_client.post(url, {"actual_date": "2026-03-05"})
    assert response.status_code == 302
    scr.refresh_from_db()
    assert (scr.status, scr.actual_date, scr.in_window) == (
        VisitStatus.DONE,
        dt.date(2026, 3, 5),
        True,
    )


def test_screening_visit_cannot_be_recorded_missed(coordinator_client, participant):
    scr = participant.visits.get(definition__code="SCR")
    response = coordinator_client.post(
        reverse("admin:schedule_visit_missed", args=[scr.pk]), {"reason": "did not come"}
    )
    assert "cannot be recorded as missed" in response.content.decode()
    scr.refresh_from_db()
    assert scr.status == VisitStatus.SCHEDULED


def test_assessment_result_is_recorded_through_the_admin(coordinator_client, participant):
    vs = Assessment.objects.get(
        visit__participant=participant, definition__code="VS", visit__definition__code="SCR"
    )
    url = reverse("admin:schedule_assessment_result", args=[vs.pk])
    response = coordinator_client.post(
        url, {"result": "", "completed_on": "2026-03-09", "completed_time": "10:00"}
    )
    assert "Enter the result" in response.content.decode()
    response = coordinator_client.post(
        url,
        {"result": "BP 120/80", "completed_on": "2026-03-09", "completed_time": "10:00"},
    )
    assert response.status_code == 302
    vs.refresh_from_db()
    assert vs.status == AssessmentStatus.DONE
    assert vs.result == "BP 120/80"


def test_status_is_not_an_editable_field_in_the_admin(coordinator_client, participant):
    url = reverse("admin:participants_participant_change", args=[participant.pk])
    response = coordinator_client.get(url)
    assert response.status_code == 200
    assert 'name="status"' not in response.content.decode()
    coordinator_client.post(url, {"status": Status.COMPLETED})
    participant.refresh_from_db()
    assert participant.status == Status.SCREENING


def test_change_page_offers_only_actions_allowed_now(coordinator_client, participant):
    body = coordinator_client.get(
        reverse("admin:participants_participant_change", args=[participant.pk])
    ).content.decode()
    assert "Enroll (eligibility sign-off)" in body
    assert "Screen failure" in body
    assert "Stop treatment early" not in body


def test_coordinator_sees_only_their_sites_participants(
    coordinator_client, participant, site2, protocol
):
    other_coordinator = make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    other = consent(site2, other_coordinator, dt.date(2026, 3, 3))
    listing = coordinator_client.get(reverse("admin:participants_participant_changelist"))
    assert participant.screening_number in listing.content.decode()
    assert other.screening_number not in listing.content.decode()
    response = coordinator_client.get(
        reverse("admin:participants_participant_action", args=[other.pk, "withdraw"])
    )
    assert response.status_code == 404
    other_visit = other.visits.first()
    assert (
        coordinator_client.get(
            reverse("admin:schedule_visit_done", args=[other_visit.pk])
        ).status_code
        == 404
    )


def test_participant_list_makes_a_fixed_number_of_queries(
    coordinator_client, protocol, site, coordinator, django_assert_max_num_queries
):
    for day in range(1, 9):
        consent(site, coordinator, dt.date(2026, 3, day))
    with django_assert_max_num_queries(15):
        response = coordinator_client.get(reverse("admin:participants_participant_changelist"))
    assert response.status_code == 200


def test_history_of_another_sites_participant_is_a_404(
    coordinator_client, participant, site2, protocol
):
    other_coordinator = make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    other = consent(site2, other_coordinator, dt.date(2026, 3, 3))
    history = other.history.first()
    base = reverse("admin:participants_participant_change", args=[other.pk])
    assert coordinator_client.get(base.replace("/change/", "/history/")).status_code == 404
    version = base.replace("/change/", f"/history/{history.history_id}/")
    assert coordinator_client.get(version).status_code == 404


def test_history_versions_cannot_be_posted_back(coordinator_client, participant, investigator):
    from schedule import services

    first_version = participant.history.last()
    services.participant_enroll(
        participant,
        answers=all_met(),
        assessed_on=dt.date(2026, 3, 9),
        signed_off_by=investigator,
        by=investigator,
        password=PASSWORD,
    )
    base = reverse("admin:participants_participant_change", args=[participant.pk])
    url = base.replace("/change/", f"/history/{first_version.history_id}/")
    assert coordinator_client.get(url).status_code == 200
    assert coordinator_client.post(url, {}).status_code == 403
    participant.refresh_from_db()
    assert (participant.status, participant.study_id) == (Status.ENROLLED, "S01-001")


def test_visit_admin_page_makes_a_fixed_number_of_queries(
    coordinator_client, participant, django_assert_max_num_queries
):
    scr = participant.visits.get(definition__code="SCR")  # 16 assessments
    with django_assert_max_num_queries(20):
        response = coordinator_client.get(reverse("admin:schedule_visit_change", args=[scr.pk]))
    assert response.status_code == 200


def test_a_study_manager_with_admin_rights_cannot_record_at_a_site(client, manager, participant):
    # Managers and monitors see every site but do not enter site data (GCP).
    manager.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["participants", "schedule"])
    )
    client.force_login(manager)
    scr = participant.visits.get(definition__code="SCR")
    response = client.post(
        reverse("admin:schedule_visit_done", args=[scr.pk]), {"actual_date": "2026-03-05"}
    )
    assert response.status_code == 403
    url = reverse("admin:participants_participant_action", args=[participant.pk, "withdraw"])
    assert client.get(url).status_code == 403
    scr.refresh_from_db()
    assert scr.status == VisitStatus.SCHEDULED


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:participants_statuschange_changelist",
        "admin:schedule_visit_changelist",
        "admin:schedule_assessment_changelist",
        "admin:participants_site_changelist",
    ],
)
def test_every_admin_list_is_scoped_to_the_users_sites(
    coordinator_client, participant, site2, protocol, changelist
):
    other_coordinator = make_user("coord-s02", StaffRole.COORDINATOR, [site2])
    other = consent(site2, other_coordinator, dt.date(2026, 3, 3))
    body = coordinator_client.get(reverse(changelist) + "?all=").content.decode()
    assert other.screening_number not in body
    assert "Berlin site" not in body
    own = participant.screening_number if "site" not in changelist else "New York site"
    assert own in body
