"""No way around the services: every registered admin and every admin action, walked as each
role, changes nothing a role may not change.

For each model of admin.site and each user (the four roles, with their groups, and a coordinator
of the other site; then the administrator), with data at both sites: the list, the change page
of one row per site, a POST of the change form with every field altered, and a POST of each
action on every row. Every table of the project is compared before and after each model's walk.
Study managers may change only protocol versions nobody is scheduled under, the outbox (resend)
and their own calendar addresses; the administrator anything but clinical records; the others
nothing. Clinical records change only through the service forms (tests/schedule/test_admin.py).
"""

import datetime as dt
import itertools

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from dashboard.models import CalendarFeedToken
from notifications.models import JobHeartbeat, OutboxEmail, OutboxKind
from participants.admin import ClinicalAdmin, editable_field_names
from participants.models import Site, StaffRole
from participants.roles import group_for
from safety.models import ActionTaken, Outcome, Relatedness
from safety.services.adverse_events import ae_record
from schedule import services
from schedule.models import AssessmentDefinition, ProtocolVersion, VisitDefinition
from tests.support import (
    D0,
    NOW,
    Journey,
    coordinator_at,
    days,
    frozen,
    local,
    make_user,
)

PROJECT_APPS = ("participants", "schedule", "safety", "notifications", "dashboard")
PROTOCOL_MODELS = (ProtocolVersion, VisitDefinition, AssessmentDefinition)
# 404: another site's row, answered like no row at all (participants.admin.AuditedAdmin).
OK_STATUSES = {200, 302, 403, 404}

# (username, role, site codes); None: the administrator (a superuser without a staff profile).
WALKERS = [
    ("walk-coordinator-s01", StaffRole.COORDINATOR, ["S01"]),
    ("walk-investigator-s01", StaffRole.INVESTIGATOR, ["S01"]),
    ("walk-manager", StaffRole.STUDY_MANAGER, []),
    ("walk-monitor", StaffRole.MEDICAL_MONITOR, []),
    ("walk-coordinator-s02", StaffRole.COORDINATOR, ["S02"]),
    ("walk-admin", None, []),
]


# --- The study: participants, visits, results, AEs at both sites ------------------------------


def journey_at(site, investigator):
    """Consented, enrolled, D0 planned and moved (a re-anchor), leukapheresis, first infusion
    given with its labs, and one adverse event."""
    j = Journey(site, coordinator_at(site), investigator)
    j.screening_visit()
    j.enroll()
    j.plan(D0 + days(3))
    j.plan(D0, reason="Product ready earlier")
    j.apheresis()
    j.infuse(1, D0)
    with frozen():
        ae_record(
            j.p,
            term="Fever",
            onset_date=D0 + days(1),
            grade=2,
            related_to_product=Relatedness.POSSIBLE,
            related_to_leukapheresis=Relatedness.NOT_RELATED,
            action_taken=ActionTaken.NONE,
            outcome=Outcome.NOT_RECOVERED,
            aware_at=local(D0 + days(2), 9, site.time_zone),
            by=j.by,
        )
    return j.p


def walker(username, role, codes):
    if role is None:
        return get_user_model().objects.create_superuser(username, f"{username}@example.org", "pw")
    user = make_user(username, role, Site.objects.filter(code__in=codes), is_staff=True)
    user.groups.add(group_for(role))
    return user


@pytest.fixture
def study(protocol, site, site2, investigator):
    journey_at(site, investigator)
    journey_at(site2, make_user("invest-s02", StaffRole.INVESTIGATOR, [site2]))
    with frozen():
        draft = services.protocol_copy_as_amendment(protocol, name="Draft amendment")
        users = {name: walker(name, role, codes) for name, role, codes in WALKERS}
        for user in (users["walk-manager"], users["walk-coordinator-s01"]):
            CalendarFeedToken.objects.create(user=user)
            OutboxEmail.objects.create(
                recipient=user,
                to_email=user.email,
                kind=OutboxKind.VISIT_DUE,
                dedup_key=user.username,
                send_after=NOW,
            )
        JobHeartbeat.objects.create(name="flag_overdue", last_finished_at=NOW)
    return {"protocol": protocol, "draft": draft, "users": users}


# --- Rows, snapshots and what each user may change --------------------------------------------


def rows_to_walk(model):
    """One row per site (rows with a site), else the first and the last row."""
    manager = model._default_manager.order_by("pk")
    path = getattr(model, "SITE_PATH", None)
    if path is None:
        found = [manager.first(), manager.last()]
    else:
        found = [
            manager.filter(**{path: pk}).first() for pk in Site.objects.values_list("pk", flat=True)
        ]
    return list({row.pk: row for row in found if row is not None}.values())


def snapshot_models():
    models = [m for a in PROJECT_APPS for m in apps.get_app_config(a).get_models()]
    return [*models, get_user_model(), apps.get_model("auth", "Group")]


def snapshot(protocol, user) -> dict:
    """Every row of every table, plus two views a permitted change must leave alone: the
    protocol participants are scheduled under, and other users' calendar addresses."""
    rows = {
        m._meta.label: list(m._default_manager.order_by("pk").values()) for m in snapshot_models()
    }
    rows["protocol in use"] = services.protocol_as_data(protocol)
    rows["others' calendar addresses"] = list(
        CalendarFeedToken.objects.exclude(user=user).order_by("pk").values()
    )
    return rows


def tracked(model):
    return getattr(model, "instance_type", model)  # a historical model's own model


def is_clinical(model) -> bool:
    return hasattr(tracked(model), "SITE_PATH") and tracked(model) is not Site


def may_change(user) -> set[str]:
    if user.is_superuser:
        labels = {m._meta.label for m in snapshot_models() if not is_clinical(m)}
        return labels | {"others' calendar addresses"}
    if user.staff_profile.role == StaffRole.STUDY_MANAGER:
        mine = (*PROTOCOL_MODELS, OutboxEmail, CalendarFeedToken)
        return {m._meta.label for m in snapshot_models() if tracked(m) in mine}
    return set()


# --- A POST with every field altered ----------------------------------------------------------

_counter = itertools.count(1)


def altered(field: forms.Field, value):
    """A value for `field` other than `value`, as a browser would post it (None: leave out)."""
    n = next(_counter)
    if isinstance(field, forms.ModelMultipleChoiceField):
        current = {str(v) for v in (value or [])}
        pks = [str(pk) for pk in field.queryset.values_list("pk", flat=True)[:5]]
        return [pk for pk in pks if pk not in current]
    if isinstance(field, forms.ModelChoiceField):
        others = (
            field.queryset.exclude(pk=value).values_list("pk", flat=True)[:1] if value else None
        )
        return str(others[0]) if others else ""
    if isinstance(field, forms.ChoiceField):
        other = [str(k) for k, _ in field.choices if str(k) not in ("", str(value))]
        return other[0] if other else None
    if isinstance(field, forms.BooleanField):
        return "" if value else "on"
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        return str(int(value or 0) + n)
    if isinstance(field, forms.DateField):
        return (dt.date(2025, 1, 1) + days(n)).isoformat()
    if isinstance(field, forms.JSONField):
        return f'["altered {n}"]'
    if isinstance(field, forms.EmailField):
        return f"altered{n}@example.org"
    if isinstance(field, forms.CharField):
        return f"altered {n}"[: field.max_length or None]
    return None


def put(data: dict, key: str, field, value) -> None:
    if field.disabled:
        return
    if isinstance(field, forms.SplitDateTimeField | forms.DateTimeField):
        moment = dt.datetime(2025, 1, 1, 8, 30) + days(next(_counter))
        data.update({key: moment.isoformat(), f"{key}_0": moment.date(), f"{key}_1": "08:30"})
        return
    new = altered(field, value)
    if new is not None:
        data[key] = new


def every_model_field(obj) -> dict:
    """Every field of the row altered, as if nothing were read-only."""
    data = {}
    for f in (*obj._meta.fields, *obj._meta.many_to_many):
        field = None if f.primary_key else f.formfield()
        if field is not None:
            value = f.value_from_object(obj)
            put(data, f.name, field, [o.pk for o in value] if f.many_to_many else value)
    return data


def form_fields(form, skip=()) -> dict:
    data = {}
    for name, field in form.fields.items():
        if name not in skip and not isinstance(field.widget, forms.HiddenInput):
            put(data, form.add_prefix(name), field, form[name].value())
        elif name not in skip:
            data[form.add_prefix(name)] = form[name].value() or ""
    return data


def change_post(obj, page) -> dict:
    """The change form's own data with every value altered; its inlines' rows too."""
    data = every_model_field(obj)
    if page.status_code != 200 or "adminform" not in (page.context or {}):
        return data
    data.update(form_fields(page.context["adminform"].form))
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        for form in formset.initial_forms:
            data.update(form_fields(form, skip=("DELETE",)))
    return data


# --- The walk ---------------------------------------------------------------------------------


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def action_names(model_admin) -> list[str]:
    """Every action of the admin, whoever may run it (delete_selected included)."""
    return [name for _, name, _ in model_admin._get_base_actions()]


def requests_on(client, model, model_admin, user):
    """Yield (what, response) for each request of one model's walk."""
    yield "list", client.get(admin_url(model, "changelist"))
    for row in rows_to_walk(model):
        url = admin_url(model, "change", row.pk)
        page = client.get(url)
        yield f"GET row {row.pk}", page
        if not (user.is_superuser and model._meta.app_label == "auth"):
            yield f"POST row {row.pk}", client.post(url, change_post(row, page))
    pks = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)]
    for name in action_names(model_admin):
        data = {"action": name, "_selected_action": pks, "index": "0"}
        if not user.is_superuser:
            data["post"] = "yes"  # delete_selected's confirmation, were it offered
        yield f"action {name}", client.post(admin_url(model, "changelist"), data)


def walk(client, user):
    """Every request of the walk, as `user`: {(model label, what): status}."""
    answers = {}
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda i: str(i[0]._meta)):
        for what, response in requests_on(client, model, model_admin, user):
            answers[model._meta.label, what] = response.status_code
    return answers


@pytest.mark.parametrize("username", [w[0] for w in WALKERS])
def test_no_admin_page_or_action_changes_what_the_user_may_not_change(client, study, username):
    user = study["users"][username]
    client.force_login(user)
    with frozen():
        before = snapshot(study["protocol"], user)
        answers = walk(client, user)
        after = snapshot(study["protocol"], user)
    # Never a server error (the client raises it), nor any other status.
    odd = {request: status for request, status in answers.items() if status not in OK_STATUSES}
    assert odd == {}
    # Every role reads the participants list (so the walk really ran logged in).
    assert answers["participants.Participant", "list"] == 200
    changed = {label for label in before if before[label] != after[label]}
    assert changed <= may_change(user), (
        f"{username} changed {sorted(changed - may_change(user))} through the admin"
    )


# --- Guards that need no data -----------------------------------------------------------------


def superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(username="root", is_superuser=True, is_staff=True)
    return request


def test_every_admin_action_declares_its_permissions():
    undeclared = [
        f"{model._meta.label}: {name}"
        for model, model_admin in admin.site._registry.items()
        for func, name, _ in model_admin._get_base_actions()
        if not getattr(func, "allowed_permissions", ())
        or not all(hasattr(model_admin, f"has_{p}_permission") for p in func.allowed_permissions)
    ]
    assert undeclared == [], "declare @admin.action(permissions=[...]) with has_<p>_permission"


def test_every_field_of_a_clinical_record_is_read_only_in_its_admin_even_for_the_administrator():
    request = superuser_request()
    for model, model_admin in admin.site._registry.items():
        if not is_clinical(model):
            continue
        assert isinstance(model_admin, ClinicalAdmin), model._meta.label
        editable = set(editable_field_names(model)) - set(model_admin.get_readonly_fields(request))
        assert editable == set(), model._meta.label
        for inline in model_admin.get_inline_instances(request):
            if is_clinical(inline.model):
                assert not inline.has_add_permission(request, None), inline
                assert not inline.has_change_permission(request, None), inline
