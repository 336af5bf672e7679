"""Adding staff: a login in its role's group, with a staff profile naming the sites it works at.

The service behind `manage.py add_staff`; the demo's logins are made by it too. Adding a username
that exists updates that login (role, sites, email, group) and leaves its password alone.
"""

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from participants import roles
from participants.models import ReminderMode, Site, StaffProfile, StaffRole

log = logging.getLogger(__name__)

# Coordinators and investigators work at named sites; the other roles see every site.
SITE_ROLES = (StaffRole.COORDINATOR, StaffRole.INVESTIGATOR)


def _role_errors(role: str) -> list[str]:
    if role not in StaffRole.values:
        return [f"“{role}” is not a role. Choose one of: {', '.join(StaffRole.values)}."]
    return []


def _site_errors(role: str, site_codes) -> list[str]:
    if role in SITE_ROLES and not site_codes:
        label = StaffRole(role).label.lower()
        return [f"A {label} works at one or more sites: name at least one site code (e.g. S01)."]
    if role in StaffRole.values and role not in SITE_ROLES and site_codes:
        label = StaffRole(role).label.lower()
        return [f"A {label} sees every site: give no site."]
    known = list(Site.objects.values_list("code", flat=True))
    unknown = sorted(set(site_codes) - set(known))
    if unknown:
        listed = ", ".join(known) or "none yet"
        return [f"Unknown site code(s): {', '.join(unknown)}. Known sites: {listed}."]
    return []


def _field_errors(field, value) -> list[str]:
    try:
        field(value)
    except ValidationError as e:
        return e.messages
    return []


def _check(*, username: str, email: str, role: str, site_codes) -> None:
    """Refuse, keyed by field, anything that would make a login unusable or wrongly scoped."""
    username_field = get_user_model()._meta.get_field("username")
    errors = {
        "username": _field_errors(lambda v: username_field.clean(v, None), username),
        "email": _field_errors(validate_email, email),
        "role": _role_errors(role),
        "sites": _site_errors(role, site_codes),
    }
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)


def _set_password(user, created: bool, *, no_password: bool, encoded_password) -> str | None:
    """Set a new login's password; returns the one-time password when one was made."""
    if encoded_password is not None:
        user.password = encoded_password
    elif created and no_password:
        user.set_unusable_password()
    elif created:
        one_time = secrets.token_urlsafe(12)
        user.set_password(one_time)
        return one_time
    return None


def _set_profile(user, role: str, sites) -> None:
    profile, created = StaffProfile.objects.get_or_create(user=user, defaults={"role": role})
    if not created and profile.role != role:
        profile.role = role
        profile.save()  # only when it changed: every save is a history row
    profile.sites.set(sites)


def _set_group(user, role: str) -> None:
    """The role's group, and no other role's (a role change moves the login)."""
    group = roles.group_for(role)
    user.groups.remove(*Group.objects.filter(name__in=roles.group_names()).exclude(pk=group.pk))
    user.groups.add(group)


@transaction.atomic
def staff_add(
    *,
    username: str,
    email: str,
    role: str,
    sites=(),
    no_password: bool = False,
    encoded_password: str | None = None,
):
    """Create or update a staff login: active, staff, in its role's group, with its sites.

    `sites`: site codes. A new login gets a random one-time password, returned (the only time it
    is seen), or with `no_password` an unusable one (see `set_password_link`). `encoded_password`
    (a hash from make_password) is set on new and existing logins alike. Returns (user, one-time
    password or None). Raises ValidationError keyed by field: username, email, role, sites.
    """
    User = get_user_model()
    username = User.normalize_username(username or "")
    email = User.objects.normalize_email(email or "")
    site_codes = list(dict.fromkeys(sites))
    _check(username=username, email=email, role=role, site_codes=site_codes)
    user, created = User.objects.select_for_update().get_or_create(username=username)
    user.email = email
    user.is_staff = True
    user.is_active = True
    one_time = _set_password(
        user, created, no_password=no_password, encoded_password=encoded_password
    )
    user.save()
    _set_profile(user, role, Site.objects.filter(code__in=site_codes))
    _set_group(user, role)
    # The username only: emails and passwords stay out of the logs.
    log.info(
        "Staff %s %s: %s at %s",
        username,
        "added" if created else "updated",
        role,
        ", ".join(site_codes) or "every site",
    )
    return user, one_time


def set_password_link(user) -> str:
    """An address where `user` chooses a password: Django's password reset confirmation page.

    Works once (setting the password invalidates it) and for PASSWORD_RESET_TIMEOUT seconds.
    """
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return f"{settings.SITE_URL}{path}"


# --- A person's own notification choices ("My notifications") ----------------------------------
# The days a person may choose to be reminded before a visit's target date (the study's default,
# REMINDER_DAYS_BEFORE, is always among them).
REMINDER_DAY_CHOICES = (14, 7, 3, 2, 1)


def reminder_day_choices() -> list[int]:
    return sorted(set(REMINDER_DAY_CHOICES) | set(settings.REMINDER_DAYS_BEFORE), reverse=True)


def reminder_days_of(profile: StaffProfile) -> list[int]:
    """The days before a target this person is reminded: their choice, else the study's."""
    return sorted(set(profile.reminder_days or settings.REMINDER_DAYS_BEFORE), reverse=True)


@transaction.atomic
def notifications_set(user, *, reminder_mode: str, reminder_days) -> StaffProfile:
    """Set one's own reminder emails: a daily digest or one email per item, and the days before
    a visit's target to be reminded (at least one). Refusals keyed by field."""
    try:
        profile = StaffProfile.objects.select_for_update().get(user=user)
    except StaffProfile.DoesNotExist:
        raise ValidationError(
            "Only study staff have notification settings: ask a study manager to add you."
        ) from None
    errors = {}
    if reminder_mode not in ReminderMode.values:
        errors["reminder_mode"] = "Choose a daily digest or one email per item."
    try:
        days = sorted({int(d) for d in reminder_days}, reverse=True)
    except (TypeError, ValueError):
        days = None
    allowed = reminder_day_choices()
    if not days or any(d not in allowed for d in days):
        errors["reminder_days"] = (
            "Choose at least one day among " + ", ".join(str(d) for d in allowed) + "."
        )
    if errors:
        raise ValidationError(errors)
    if (profile.reminder_mode, profile.reminder_days) != (reminder_mode, days):
        profile.reminder_mode, profile.reminder_days = reminder_mode, days
        profile.save()  # only when it changed: every save is a history row
    return profile
