import django_filters
from django import forms
from django.utils import timezone

from participants import access
from participants.models import Participant, Phase, Site, Status
from safety.models import AdverseEvent, EventKind
from schedule import listings


class ParticipantFilter(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(
        queryset=Site.objects.none(), empty_label="All my sites", to_field_name="code"
    )
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any status")
    phase = django_filters.ChoiceFilter(choices=Phase.choices, empty_label="Any phase")
    overdue = django_filters.BooleanFilter(
        label="Overdue safety items only",
        method="filter_overdue",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Participant
        fields = ["site", "status", "phase", "overdue"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's own sites can be chosen; another site's code is simply not valid.
        self.filters["site"].queryset = access.visible_sites(user).order_by("code")

    def filter_overdue(self, queryset, name, value):
        # An unticked checkbox means "all participants", not "only those without overdue items".
        # Ids from the overdue items (a few rows, by index), not a count per participant.
        return listings.with_overdue_safety(queryset, timezone.now()) if value else queryset


class AdverseEventFilter(django_filters.FilterSet):
    """The adverse-event listing's filters. The queryset is safety.selectors.ae_listing (already
    scoped to the user's sites); "open", "above grade 2" and "unreported" are the predicates of
    AdverseEventQuerySet, so the listing agrees with the worklist that links to it."""

    site = django_filters.ModelChoiceFilter(
        field_name="participant__site",
        label="Site",
        queryset=Site.objects.none(),
        empty_label="All my sites",
        to_field_name="code",
    )
    kind = django_filters.ChoiceFilter(choices=EventKind.choices, empty_label="Any kind")
    serious = django_filters.ChoiceFilter(
        choices=[("yes", "Serious"), ("no", "Not serious")],
        empty_label="Serious or not",
        method="filter_serious",
    )
    grade = django_filters.ChoiceFilter(
        choices=[(g, f"Grade {g}") for g in range(1, 6)], empty_label="Any grade"
    )
    open = django_filters.BooleanFilter(
        label="Open (unresolved) only", method="filter_open", widget=forms.CheckboxInput
    )
    follow_up = django_filters.BooleanFilter(
        label="Above grade 2, unresolved", method="filter_follow_up", widget=forms.CheckboxInput
    )
    unreported = django_filters.BooleanFilter(
        label="SAE not yet reported to the sponsor",
        method="filter_unreported",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = AdverseEvent
        fields = ["site", "kind", "serious", "grade", "open", "follow_up", "unreported"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's own sites can be chosen; another site's code is simply not valid.
        self.filters["site"].queryset = access.visible_sites(user).order_by("code")

    def filter_serious(self, queryset, name, value):
        return queryset.filter(serious=value == "yes")

    # An unticked checkbox means "every event", not "only those that are not ...".
    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset

    def filter_follow_up(self, queryset, name, value):
        return queryset.needs_follow_up() if value else queryset

    def filter_unreported(self, queryset, name, value):
        return queryset.sae_unreported() if value else queryset
