"""Which rows a dashboard user may see: the rules live in participants.selectors; these apply
them to the schedule's tables."""

from django.db.models import QuerySet

from participants.selectors import participants_visible_to, scoped_to_user, sites_visible_to
from schedule.models import Assessment, Visit

visible_sites = sites_visible_to
participants_for = participants_visible_to


def visits_for(user) -> QuerySet[Visit]:
    return scoped_to_user(Visit.objects.all(), user, "participant__site")


def assessments_for(user) -> QuerySet[Assessment]:
    return scoped_to_user(Assessment.objects.all(), user, "visit__participant__site")
