"""Which sites a user may see. Every dashboard read goes through these, so a page, an export or
a feed never shows another site's participants, and a guessed URL of another site is a 404.

Study managers and medical monitors see all sites (StaffProfile.sees_all_sites); coordinators and
investigators their own. A superuser without a staff profile (an administrator) sees all sites;
any other user without a profile sees nothing.
"""

from django.db.models import QuerySet

from participants.models import Participant, Site, StaffProfile
from schedule.models import Assessment, Visit

_CACHE_ATTR = "_dashboard_sees_all"


def _profile(user) -> StaffProfile | None:
    try:
        return user.staff_profile
    except StaffProfile.DoesNotExist:
        return None


def sees_all_sites(user) -> bool | None:
    """True: every site; False: the profile's sites; None: no site at all.

    Cached on the user object, so a page asks the database once however many reads it makes.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if not hasattr(user, _CACHE_ATTR):
        profile = _profile(user)
        if profile is None:
            value = True if user.is_superuser else None
        else:
            value = profile.sees_all_sites
        setattr(user, _CACHE_ATTR, value)
    return getattr(user, _CACHE_ATTR)


def visible_sites(user) -> QuerySet[Site]:
    scope = sees_all_sites(user)
    if scope is None:
        return Site.objects.none()
    if scope:
        return Site.objects.all()
    return Site.objects.filter(staff__user=user)


def _scoped(queryset: QuerySet, user, site_path: str) -> QuerySet:
    scope = sees_all_sites(user)
    if scope is None:
        return queryset.none()
    if scope:
        return queryset
    # A subquery, not a list of ids: the read stays one query.
    return queryset.filter(**{f"{site_path}__in": visible_sites(user).values("pk")})


def participants_for(user) -> QuerySet[Participant]:
    return _scoped(Participant.objects.all(), user, "site")


def visits_for(user) -> QuerySet[Visit]:
    return _scoped(Visit.objects.all(), user, "participant__site")


def assessments_for(user) -> QuerySet[Assessment]:
    return _scoped(Assessment.objects.all(), user, "visit__participant__site")
