"""The one access module: may this user see, or record, this row?

Every view, admin, export, feed, form and service asks here, so nobody sees another site's
participants and a guessed URL of another site is a 404.

Seeing: study managers and medical monitors see every site (StaffProfile.sees_all_sites);
coordinators and investigators their own. A superuser without a staff profile (an administrator)
sees every site; any other user without one sees none.

Recording: seeing is not recording. Study managers and medical monitors only read (monitoring,
oversight); coordinators and investigators record at their own sites; a superuser records anywhere.

A model says how to reach its site with a `SITE_PATH` class attribute ("site" on Participant and
Visit, "participant__site" on Eligibility...), so these functions take any scoped model or
queryset.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from participants.models import Site, StaffProfile, StaffRole

RECORDING_ROLES = (StaffRole.COORDINATOR, StaffRole.INVESTIGATOR)
_CACHE_ATTR = "_sle001_sees_all_sites"
_SITES_ATTR = "_sle001_visible_sites"


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _profile(user) -> StaffProfile | None:
    try:
        return user.staff_profile  # cached on the user after the first read
    except StaffProfile.DoesNotExist:
        return None


def sees_all_sites(user) -> bool | None:
    """True: every site; False: the profile's sites; None: no site at all.

    Cached on the user object, so a page asks the database once however many reads it makes.
    """
    if not _active(user):
        return None
    if not hasattr(user, _CACHE_ATTR):
        profile = _profile(user)
        if profile is None:
            value = True if user.is_superuser else None
        else:
            value = profile.sees_all_sites
        setattr(user, _CACHE_ATTR, value)
    return getattr(user, _CACHE_ATTR)


def visible_site_list(user) -> list[Site]:
    """The sites the user sees, by code: read once per user object and cached on it like
    sees_all_sites (a page's selectors all ask; the user object lives for one request)."""
    if not hasattr(user, _SITES_ATTR):
        setattr(user, _SITES_ATTR, list(visible_sites(user).order_by("code")))
    return getattr(user, _SITES_ATTR)


def visible_site_ids(user) -> list[int] | None:
    """The ids of the sites the user sees; None: every site (no site to check, no query).

    Every scoped read names the user's sites as literal ids rather than re-joining the staff
    profile in a subquery: PostgreSQL plans that join again in each query of a page (~1 ms of
    planning each), and the page reads the user's sites anyway (visible_site_list).
    """
    scope = sees_all_sites(user)
    if scope is None:
        return []
    if scope:
        return None
    return [site.pk for site in visible_site_list(user)]


def visible_sites(user) -> QuerySet[Site]:
    scope = sees_all_sites(user)
    if scope is None:
        return Site.objects.none()
    if scope:
        return Site.objects.all()
    return Site.objects.filter(staff__user=user)


def _queryset(rows) -> QuerySet:
    return rows if isinstance(rows, QuerySet) else rows._default_manager.all()


def scoped(queryset: QuerySet, user, site_path: str) -> QuerySet:
    """`queryset` limited to rows whose `site_path` is a site the user may see."""
    ids = visible_site_ids(user)
    if ids is None:
        return queryset
    if not ids:
        return queryset.none()
    return queryset.filter(**{f"{site_path}__in": ids})


def visible(user, rows) -> QuerySet:
    """The rows of `rows` (a model with SITE_PATH, or a queryset of one) the user may see."""
    queryset = _queryset(rows)
    return scoped(queryset, user, queryset.model.SITE_PATH)


def site_of(obj: Model) -> Site:
    """The site a scoped row belongs to, following its model's SITE_PATH."""
    if type(obj).SITE_PATH == "pk":
        return obj
    for name in type(obj).SITE_PATH.split("__"):
        obj = getattr(obj, name)
    return obj


def records_where_visible(user) -> bool:
    """True when the user may record at every site they can see.

    No query beyond the cached staff profile: a coordinator's or investigator's visible sites are
    exactly the sites of their profile, so on a page listing only visible rows the role decides.
    Use it to show or hide buttons; writes ask `can_record` for the row's own site.
    """
    if not _active(user):
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


def recordable_sites(user) -> QuerySet[Site]:
    """The sites where `user` may record (e.g. the site choices of the consent form)."""
    if not records_where_visible(user):
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(staff__user=user)


def get_visible_or_404(user, rows, **lookup):
    """One row the user may see, or 404 (another site's row looks like no row at all)."""
    try:
        return visible(user, rows).get(**lookup)
    except (_queryset(rows).model.DoesNotExist, ValueError, TypeError):
        raise Http404("No such record.") from None


class ReadOnlyAccess(PermissionDenied):
    """The user may see this site but not record there (a 403 that names the site)."""

    def __init__(self, site: Site | None = None):
        self.site = site
        where = f"site {site.code}" if site is not None else "the study"
        super().__init__(f"Your role lets you see {where} but not record there.")


def get_recordable_or_403(user, rows, **lookup):
    """One row the user may record on: 404 when they cannot see it, 403 when they only read."""
    obj = get_visible_or_404(user, rows, **lookup)
    site = site_of(obj)
    if not can_record(user, site):
        raise ReadOnlyAccess(site)
    return obj


def require_recorder(by, site: Site) -> None:
    """For services (defence in depth): refuse a `by` who may not record at `site`, whoever
    called. A refused change raises before anything is written."""
    if not can_record(by, site):
        raise ReadOnlyAccess(site)
