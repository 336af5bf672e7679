"""Staff roles as data (participants/roles.py): the groups the migration makes hold exactly what
roles.py declares, and roles.py decides, for every role, about every model of the project."""

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from participants import roles
from participants.models import StaffRole

MIGRATION = "participants/migrations/0003_role_groups.py"
NEXT_STEP = (
    "Add a data migration that calls participants.roles.sync_role_groups(apps) (copy "
    f"{MIGRATION}), depending on the migration that creates the model, so existing installs "
    "get the permissions too."
)


def project_models() -> set[str]:
    """ "app_label.model" of every model of the apps in this repository (not in .venv), and of
    every third-party app roles.py names (django-axes): naming one of its models means deciding
    about all of them."""
    root = Path(settings.BASE_DIR).resolve()
    named = {name.split(".")[0] for role in roles.ROLES for name in roles.decided_models(role)}
    found = set()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        ours = path.is_relative_to(root) and ".venv" not in path.relative_to(root).parts
        if not ours and config.label not in named:
            continue
        found |= {f"{m._meta.app_label}.{m._meta.model_name}" for m in config.get_models()}
    return found


def grant_names(role: str) -> str:
    names = {id(value): name for name, value in vars(roles).items() if isinstance(value, dict)}
    return " or ".join(names.get(id(grant), "?") for grant in roles.ROLES[role].grants)


def group_permissions(group) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_every_staff_role_has_its_own_group_in_roles_py():
    assert set(roles.ROLES) == set(StaffRole.values), (
        "participants/roles.py ROLES must have one entry per participants.models.StaffRole."
    )
    assert len(roles.group_names()) == len(roles.ROLES)


def test_roles_py_decides_about_every_model_of_every_project_app_for_every_role():
    models = project_models()
    assert {
        "participants.participant",
        "schedule.visit",
        "dashboard.calendarfeedtoken",
        "axes.accessfailurelog",
    } <= models
    undecided = {role: sorted(models - roles.decided_models(role)) for role in roles.ROLES}
    lines = [
        f"  {role}: add {', '.join(names)} to {grant_names(role)}, under the actions it needs "
        '(e.g. "view") or under NOTHING'
        for role, names in undecided.items()
        if names
    ]
    assert not lines, "\n".join(
        [
            "participants/roles.py says nothing about these models for these roles:",
            *lines,
            f"Then: {NEXT_STEP}",
        ]
    )


def test_roles_py_names_only_models_that_exist():
    models = project_models()
    stale = {role: sorted(roles.decided_models(role) - models) for role in roles.ROLES}
    lines = [f"  {role}: {', '.join(names)}" for role, names in stale.items() if names]
    assert not lines, "\n".join(
        ["participants/roles.py names models that do not exist; remove them:", *lines]
    )


def test_after_migrations_each_role_group_holds_exactly_the_permissions_roles_py_declares(db):
    for role, declared in ((r, roles.permissions(r)) for r in roles.ROLES):
        group = Group.objects.get(name=roles.ROLES[role].group)
        held = group_permissions(group)
        assert held == declared, (
            f"Group “{group.name}” ({role}) after migrations differs from participants/roles.py.\n"
            f"  declared, not held: {sorted(declared - held)}\n"
            f"  held, not declared: {sorted(held - declared)}\n"
            "A declared permission that is never held is a misspelt model or action, or a model "
            f"whose permissions no migration grants yet: {NEXT_STEP}"
        )


def test_coordinators_and_investigators_record_and_never_edit_the_protocol():
    for role in ("coordinator", "investigator"):
        granted = roles.permissions(role)
        assert {
            "participants.add_participant",
            "participants.change_participant",
            "schedule.change_visit",
            "schedule.change_assessment",
            "schedule.view_protocolversion",
        } <= granted
        assert "schedule.change_visitdefinition" not in granted
        assert not any(name.startswith("notifications.") for name in granted)
        assert not any(".delete_" in name for name in granted)


def test_study_managers_and_medical_monitors_see_every_model_and_only_managers_edit_the_protocol():
    views = {f"{m.split('.')[0]}.view_{m.split('.')[1]}" for m in project_models()}
    manager = roles.permissions("study_manager")
    monitor = roles.permissions("medical_monitor")
    assert views == monitor, "medical monitors view every model and do nothing else"
    assert manager - monitor == {
        f"schedule.{action}_{model}"
        for action in ("add", "change")
        for model in ("protocolversion", "visitdefinition", "assessmentdefinition")
    }


def test_sync_role_groups_puts_back_a_group_edited_or_deleted_by_hand(db):
    coordinators = Group.objects.get(name="Coordinators")
    coordinators.permissions.add(Permission.objects.get(codename="delete_participant"))
    coordinators.permissions.remove(Permission.objects.get(codename="add_participant"))
    Group.objects.filter(name="Medical monitors").delete()

    missing = roles.sync_role_groups()

    assert missing == frozenset()
    for role in roles.ROLES:
        group = Group.objects.get(name=roles.ROLES[role].group)
        assert group_permissions(group) == roles.permissions(role)


def test_the_migration_creates_the_permissions_it_grants_on_a_database_without_any(db):
    """On a fresh database post_migrate, which creates permissions, runs after all migrations:
    the data migration must create them itself, with the historical models."""
    Group.objects.filter(name__in=roles.group_names()).delete()
    Permission.objects.all().delete()
    # The latest migration that syncs the groups (a new model needs a new one: see roles.py).
    state = MigrationExecutor(connection).loader.project_state(
        ("schedule", "0010_deviation_role_groups"), at_end=True
    )

    missing = roles.sync_role_groups(state.apps)

    assert missing == frozenset()
    for role in roles.ROLES:
        group = Group.objects.get(name=roles.ROLES[role].group)
        assert group_permissions(group) == roles.permissions(role)


@pytest.mark.parametrize("role", StaffRole.values)
def test_group_for_gives_the_role_its_group_even_when_it_was_deleted(db, role):
    Group.objects.filter(name=roles.ROLES[role].group).delete()

    group = roles.group_for(role)

    assert group.name == roles.ROLES[role].group
    assert group_permissions(group) == roles.permissions(role)
