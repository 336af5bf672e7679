"""Read queries about participants, scoped to what a user may see.

Every list, page, export, feed and admin screen goes through these, so nobody sees another site's
participants and a guessed URL of another site is a 404. Study managers and medical monitors see
all sites (StaffProfile.sees_all_sites); coordinators and investigators their own. A superuser
without a staff profile (an administrator) sees all sites; any other user without one sees none.
"""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from participants.models import Participant, Site, StaffProfile, StaffRole

_CACHE_ATTR = "_sle001_sees_all_sites"


def sees_all_sites(user) -> bool | None:
    """True: every site; False: the profile's sites; None: no site at all.

    Cached on the user object, so a page asks the database once however many reads it makes.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if not hasattr(user, _CACHE_ATTR):
        try:
            value = user.staff_profile.sees_all_sites
        except StaffProfile.DoesNotExist:
            value = True if user.is_superuser else None
        setattr(user, _CACHE_ATTR, value)
    return getattr(user, _CACHE_ATTR)


def sites_visible_to(user) -> QuerySet[Site]:
    scope = sees_all_sites(user)
    if scope is None:
        return Site.objects.none()
    if scope:
        return Site.objects.all()
    return Site.objects.filter(staff__user=user)


def scoped_to_user(queryset: QuerySet, user, site_path: str) -> QuerySet:
    """`queryset` limited to rows whose `site_path` is a site the user may see."""
    scope = sees_all_sites(user)
    if scope is None:
        return queryset.none()
    if scope:
        return queryset
    # A subquery, not a list of ids: the read stays one query.
    return queryset.filter(**{f"{site_path}__in": sites_visible_to(user).values("pk")})


def participants_visible_to(user) -> QuerySet[Participant]:
    return scoped_to_user(Participant.objects.all(), user, "site")


def investigators_of(site: Site):
    return (
        get_user_model()
        .objects.filter(
            is_active=True, staff_profile__role=StaffRole.INVESTIGATOR, staff_profile__sites=site
        )
        .order_by("username")
    )
