"""Read queries about participants, scoped to what a user may see."""

from django.db.models import QuerySet

from participants.models import Participant, Site


def sites_visible_to(user) -> QuerySet[Site]:
    """Study managers, medical monitors and superusers see every site; others their own."""
    if not user.is_authenticated:
        return Site.objects.none()
    profile = getattr(user, "staff_profile", None)
    if user.is_superuser or (profile is not None and profile.sees_all_sites):
        return Site.objects.all()
    if profile is None:
        return Site.objects.none()
    return profile.sites.all()


def participants_visible_to(user) -> QuerySet[Participant]:
    return Participant.objects.filter(site__in=sites_visible_to(user))
