"""Staff roles as data: each role's group and the admin permissions the group holds.

Recording in the Django admin needs model permissions, and staff get them through their role's
group. The groups are created by a data migration (0003_role_groups), so an install has them
without the demo; `manage.py add_staff` puts each login in its role's group.

Every model of every project app, and of every third-party app named here (django-axes), is named
once per role: under the actions the role gets, or under NOTHING. tests/participants/test_roles.py
fails on a model nobody decided about, so a new model forces a decision here and a new data
migration that calls `sync_role_groups` again.

Plain strings only: participants imports no other app of the project, and the migration runs this
module against historical models.
"""

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

# The actions key for models a role gets no permission on: a decision, not an oversight.
NOTHING = "nothing"

# Grants: app label -> actions (space-separated) -> model names.

# django-axes' records of log-ins: failed attempts per username and address (lockouts), every
# failure, successful log-ins. A third-party app named here is decided about like a project app.
AXES_MODELS = ("accessattempt", "accessattemptexpiration", "accessfailurelog", "accesslog")

# Coordinators record at their sites. The admin's forms call the services and are gated by
# "change"; the fields themselves are read-only. Investigators use the same screens.
RECORDING = {
    "participants": {
        # Adding a participant is registering a consent (the admin's add view runs the consent
        # service, which lays out the schedule itself).
        "view add change": ("participant",),
        "view change": ("eligibility", "apheresis"),
        "view": ("site", "statuschange"),
        NOTHING: (
            "staffprofile",
            "historicalsite",
            "historicalstaffprofile",
            "historicalparticipant",
            "historicaleligibility",
            "historicalapheresis",
        ),
    },
    "schedule": {
        # Deviations: drafted by the tracker, described and followed up by the site.
        "view change": ("visit", "assessment", "participantschedule", "deviation"),
        "view": (
            "reanchor",
            "protocolversion",
            "visitdefinition",
            "assessmentdefinition",
            "infusionhold",
            "predoseoverride",
        ),
        NOTHING: (
            "historicalinfusionhold",
            "historicalpredoseoverride",
            "historicalprotocolversion",
            "historicalvisitdefinition",
            "historicalassessmentdefinition",
            "historicalparticipantschedule",
            "historicalvisit",
            "historicalassessment",
            "historicaldeviation",
        ),
    },
    # Safety events are recorded on the dashboard through safety.services; the admin shows them.
    "safety": {
        "view": ("adverseevent", "grading", "labresult"),
        NOTHING: ("historicaladverseevent", "historicallabresult"),
    },
    # Coordinators read their reminders by email and on the dashboard, not in the admin.
    "notifications": {NOTHING: ("outboxemail", "missedsafetyalert", "jobheartbeat")},
    "dashboard": {NOTHING: ("calendarfeedtoken",)},
    # Log-in failures and lockouts (django-axes): the study managers' and monitors' to read.
    "axes": {NOTHING: AXES_MODELS},
}

# Study managers and medical monitors oversee every site: they read everything, history included.
READ_ALL = {
    "participants": {
        "view": (
            "site",
            "staffprofile",
            "participant",
            "eligibility",
            "apheresis",
            "statuschange",
            "historicalsite",
            "historicalstaffprofile",
            "historicalparticipant",
            "historicaleligibility",
            "historicalapheresis",
        ),
    },
    "schedule": {
        "view": (
            "protocolversion",
            "visitdefinition",
            "assessmentdefinition",
            "participantschedule",
            "reanchor",
            "visit",
            "assessment",
            "historicalprotocolversion",
            "historicalvisitdefinition",
            "historicalassessmentdefinition",
            "historicalparticipantschedule",
            "historicalvisit",
            "historicalassessment",
            "infusionhold",
            "predoseoverride",
            "historicalinfusionhold",
            "historicalpredoseoverride",
            "deviation",
            "historicaldeviation",
        ),
    },
    "safety": {
        "view": (
            "adverseevent",
            "grading",
            "labresult",
            "historicaladverseevent",
            "historicallabresult",
        )
    },
    "notifications": {"view": ("outboxemail", "missedsafetyalert", "jobheartbeat")},
    "dashboard": {"view": ("calendarfeedtoken",)},
    # Read-only: unlocking is `manage.py axes_reset_username` (README), or a superuser.
    "axes": {"view": AXES_MODELS},
}

# Amendments are new protocol versions, made in the admin ("Copy as amendment").
PROTOCOL_EDITING = {
    "schedule": {"add change": ("protocolversion", "visitdefinition", "assessmentdefinition")},
}


@dataclass(frozen=True)
class Role:
    group: str
    grants: tuple[dict, ...]  # merged: a model is granted the actions of every grant naming it


# Keys are participants.models.StaffRole values (strings: the migration imports this module).
ROLES = {
    "coordinator": Role("Coordinators", (RECORDING,)),
    "investigator": Role("Investigators", (RECORDING,)),
    "medical_monitor": Role("Medical monitors", (READ_ALL,)),
    "study_manager": Role("Study managers", (READ_ALL, PROTOCOL_EDITING)),
}


def _entries(role: str):
    """(app label, actions, model) for every model the role's grants name, NOTHING included."""
    for grant in ROLES[role].grants:
        for app_label, by_actions in grant.items():
            for actions, models in by_actions.items():
                for model in models:
                    yield app_label, actions, model


def permissions(role: str) -> frozenset[str]:
    """The role's permissions as "app_label.codename", e.g. "schedule.view_visit"."""
    return frozenset(
        f"{app_label}.{action}_{model}"
        for app_label, actions, model in _entries(role)
        if actions != NOTHING
        for action in actions.split()
    )


def decided_models(role: str) -> frozenset[str]:
    """Every "app_label.model" the role's grants name, granted or under NOTHING."""
    return frozenset(f"{app_label}.{model}" for app_label, _, model in _entries(role))


def group_names() -> frozenset[str]:
    return frozenset(role.group for role in ROLES.values())


def _sync_group(registry, role: str, using: str):
    """Create or update the role's group to exactly its declared permissions, those that exist.

    Returns (group, declared permissions missing from the database): a migration that runs before
    a model's own migration cannot grant it yet; the migration that follows it does.
    """
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    wanted = permissions(role)
    labels = {name.split(".")[0] for name in wanted}
    candidates = Permission.objects.using(using).filter(
        content_type__app_label__in=labels,
        codename__in={name.split(".")[1] for name in wanted},
    )
    found = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in candidates.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    group, _ = Group.objects.using(using).get_or_create(name=ROLES[role].group)
    group.permissions.set([pk for name, pk in found.items() if name in wanted])
    return group, wanted - found.keys()


def sync_role_groups(apps=None, using: str = DEFAULT_DB_ALIAS) -> frozenset[str]:
    """Bring every role's group to exactly its declared permissions.

    `apps`: the historical registry in a migration, else the running project's. Permissions are
    created first: on a fresh database post_migrate (which normally creates them) has not run yet
    when data migrations run. Returns the declared permissions that do not exist (yet).
    """
    registry = apps or global_apps
    # The real app configs with the historical registry, as post_migrate does: the stubs in a
    # migration's registry have no models module, and create_permissions skips those.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=registry)
    missing = set()
    for role in ROLES:
        missing |= _sync_group(registry, role, using)[1]
    return frozenset(missing)


def group_for(role: str, using: str = DEFAULT_DB_ALIAS):
    """The role's group, created if missing and brought to its declared permissions."""
    return _sync_group(global_apps, role, using)[0]
