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


# --- Who may record ------------------------------------------------------------------------------
# Seeing is not recording: study managers and medical monitors see every site but only read
# (monitoring, oversight); coordinators and investigators record at their own sites; a superuser
# (an administrator) may record anywhere.

RECORDING_ROLES = (StaffRole.COORDINATOR, StaffRole.INVESTIGATOR)


def _profile(user) -> StaffProfile | None:
    try:
        return user.staff_profile  # cached on the user after the first read
    except StaffProfile.DoesNotExist:
        return None


def records_where_visible(user) -> bool:
    """True when the user may record at every site they can see.

    No query beyond the cached staff profile: a coordinator's or investigator's visible sites are
    exactly the sites of their profile, so on a page listing only visible rows the role decides.
    Use it to show or hide buttons; the write views still ask `can_record` for the object's site.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    profile = _profile(user)
    return profile is not None and profile.role in RECORDING_ROLES


def can_record(user, site: Site) -> bool:
    """May `user` record (status changes, visits, results, consents) at `site`?"""
    if not records_where_visible(user):
        return False
    if user.is_superuser:
        return True
    return _profile(user).sites.filter(pk=site.pk).exists()


def sites_recordable_by(user) -> QuerySet[Site]:
    """The sites where `user` may record (e.g. the site choices of the consent form)."""
    if not records_where_visible(user):
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(staff__user=user)
