import django_filters
from django import forms

from participants import access
from participants.models import Participant, Phase, Site, Status


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
        return queryset.filter(overdue_safety__gt=0) if value else queryset
