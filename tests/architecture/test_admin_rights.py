"""What each role may do in the admin beyond reading (issue 12: no way around the services): clinical
change forms save nothing for anyone, the protocol is the study managers' while nobody is scheduled
under it, sites and staff are the administrator's, and each action checks who runs it on which
rows. tests/architecture/test_admin_walk.py walks every page and action; these show the allowed
side works and the refusals the issue found."""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.urls import reverse

from dashboard.models import CalendarFeedToken
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from participants.admin import AuditedAdmin
from participants.models import Participant, Site, StaffRole
from participants.roles import group_for
from schedule import services
from schedule.models import Assessment, ProtocolVersion
from tests.support import NOW, consent, coordinator_at, frozen, make_user


@pytest.fixture(autouse=True)
def now():
    with frozen():
        yield


def staff(username, role, sites=()):
    user = make_user(username, role, sites, is_staff=True)
    user.groups.add(group_for(role))
    return user


@pytest.fixture
def people(site, site2):
    return {
        "coordinator": staff("c1", StaffRole.COORDINATOR, [site]),
        "monitor": staff("mon", StaffRole.MEDICAL_MONITOR),
        "manager": staff("sm", StaffRole.STUDY_MANAGER),
        "admin": get_user_model().objects.create_superuser("root", "root@example.org", "pw"),
    }


@pytest.fixture
def participant(protocol, site):
    return consent(site, coordinator_at(site), dt.date(2026, 3, 2))


def as_user(client, user):
    client.force_login(user)
    return client


def run_action(client, model, action, rows):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return client.post(url, {"action": action, "_selected_action": [r.pk for r in rows]})


def offered(client, model, action) -> bool:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f'value="{action}"' in client.get(url).content.decode()


@pytest.mark.parametrize("who", ["coordinator", "monitor", "admin"])
def test_an_assessments_change_form_saves_nothing_whoever_posts_it(
    client, people, participant, who
):
    cbc = Assessment.objects.get(
        visit__participant=participant, definition__code="CBC", visit__definition__code="SCR"
    )
    url = reverse("admin:schedule_assessment_change", args=[cbc.pk])
    page = as_user(client, people[who]).get(url).content.decode()
    assert 'name="reason"' not in page and 'name="_save"' not in page

    response = client.post(url, {"reason": "changed by hand", "status": "not_done"})

    assert response.status_code == 403
    cbc.refresh_from_db()
    assert (cbc.reason, cbc.status) == ("", "pending")


def test_copy_as_amendment_is_the_study_managers(client, people, protocol):
    coordinator = as_user(client, people["coordinator"])
    assert not offered(coordinator, ProtocolVersion, "copy_as_amendment")
    run_action(coordinator, ProtocolVersion, "copy_as_amendment", [protocol])
    assert ProtocolVersion.objects.count() == 1

    manager = as_user(client, people["manager"])
    assert offered(manager, ProtocolVersion, "copy_as_amendment")
    run_action(manager, ProtocolVersion, "copy_as_amendment", [protocol])
    assert ProtocolVersion.objects.filter(version=protocol.version + 1, is_active=False).exists()


def posted_as_shown(page) -> dict:
    """The change form's data as the page shows it (the main form and its inlines' rows)."""
    forms = [page.context["adminform"].form]
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        forms += inline.formset.initial_forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:  # (0 is a value)
                data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_only_a_version_nobody_is_scheduled_under_is_edited_and_by_the_study_manager(
    client, people, protocol, participant
):
    draft = services.protocol_copy_as_amendment(protocol, name="Draft")
    in_use = reverse("admin:schedule_protocolversion_change", args=[protocol.pk])
    unused = reverse("admin:schedule_protocolversion_change", args=[draft.pk])
    coordinator = as_user(client, people["coordinator"])
    assert coordinator.post(unused, {"name": "By a coordinator"}).status_code == 403

    manager = as_user(client, people["manager"])
    assert manager.post(in_use, {"name": "Renamed"}).status_code == 403
    data = {**posted_as_shown(manager.get(unused)), "name": "Amendment 2 (draft)"}
    assert manager.post(unused, data).status_code == 302

    assert ProtocolVersion.objects.get(pk=draft.pk).name == "Amendment 2 (draft)"
    assert ProtocolVersion.objects.get(pk=protocol.pk).name == protocol.name


def test_sites_and_staff_are_edited_by_the_administrator_only(client, people, site):
    coordinator = people["coordinator"]  # as if their group had been given more by hand
    coordinator.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_site", "change_staffprofile"])
    )
    own_profile = reverse(
        "admin:participants_staffprofile_change", args=[coordinator.staff_profile.pk]
    )
    promoted = {"user": coordinator.pk, "role": StaffRole.STUDY_MANAGER, "reminder_mode": "digest"}
    assert as_user(client, coordinator).post(own_profile, promoted).status_code == 403
    coordinator.staff_profile.refresh_from_db()
    assert coordinator.staff_profile.role == StaffRole.COORDINATOR

    url = reverse("admin:participants_site_change", args=[site.pk])
    administrator = as_user(client, people["admin"])
    data = {**posted_as_shown(administrator.get(url)), "name": "Renamed"}

    assert as_user(client, coordinator).post(url, data).status_code == 403
    assert Site.objects.get(pk=site.pk).name == "New York site"
    assert as_user(client, people["admin"]).post(url, data).status_code == 302
    assert Site.objects.get(pk=site.pk).name == "Renamed"


def test_a_user_revokes_their_own_calendar_address_and_the_administrator_any(client, people):
    mine = CalendarFeedToken.objects.create(user=people["manager"])
    theirs = CalendarFeedToken.objects.create(user=people["coordinator"])

    response = run_action(
        as_user(client, people["manager"]), CalendarFeedToken, "revoke", [mine, theirs]
    )

    assert response.status_code == 302
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert (mine.revoked_at, theirs.revoked_at) == (NOW, None)
    run_action(as_user(client, people["admin"]), CalendarFeedToken, "revoke", [theirs])
    theirs.refresh_from_db()
    assert theirs.revoked_at == NOW


@pytest.mark.parametrize("who, may", [("monitor", False), ("manager", True), ("admin", True)])
def test_the_outbox_is_resent_by_study_managers_and_the_administrator(client, people, who, may):
    row = OutboxEmail.objects.create(
        recipient=people["coordinator"],
        to_email="c1@example.org",
        kind=OutboxKind.VISIT_DUE,
        dedup_key="k",
        send_after=NOW,
        status=OutboxStatus.FAILED,
    )
    user_client = as_user(client, people[who])
    assert offered(user_client, OutboxEmail, "resend") is may

    run_action(user_client, OutboxEmail, "resend", [row])

    row.refresh_from_db()
    assert row.status == (OutboxStatus.PENDING if may else OutboxStatus.FAILED)


def test_an_action_on_rows_with_a_site_gets_only_the_rows_its_user_records_at(
    protocol, site, site2, people
):
    here = consent(site, coordinator_at(site), dt.date(2026, 3, 2))
    consent(site2, coordinator_at(site2), dt.date(2026, 3, 2))
    received = []

    class WithAnAction(AuditedAdmin):
        actions = ["note"]

        def has_note_permission(self, request):
            return True

        @admin.action(permissions=["note"])
        def note(self, request, queryset):
            received.append(sorted(queryset.values_list("pk", flat=True)))

    model_admin = WithAnAction(Participant, admin.site)
    for who in ("coordinator", "manager"):
        request = RequestFactory().post("/")
        request.user, request.session = people[who], {}
        request._messages = FallbackStorage(request)
        action = model_admin.get_actions(request)["note"][0]
        action(model_admin, request, Participant.objects.all())

    assert received == [[here.pk]]  # the manager records nowhere: the action did not run
