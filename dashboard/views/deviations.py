"""Protocol deviations: the deviations page (filters, counts, CSV/XLSX of every filtered row), one
deviation's page with its follow-up forms, correcting a recorded visit's date, and the deviation
parts of the worklist and the participant page.

Every read starts from participants.access (visible, get_visible_or_404, get_recordable_or_403);
the forms (schedule/forms/deviations.py) call the services, which decide."""

import datetime as dt

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from dashboard import capped, selectors
from dashboard.tables import fmt_date, fmt_window
from dashboard.tables.deviations import (
    DeviationTable,
    DraftDeviationTable,
    ParticipantDeviationTable,
)
from dashboard.views._common import EXPORT_FORMATS, safe_next, stream_table
from participants import access, signatures
from participants.models import Site
from schedule.forms.deviations import DEVIATION_FORMS, VisitDateCorrectForm
from schedule.models import (
    Deviation,
    DeviationCategory,
    DeviationImportance,
    DeviationStatus,
    VisitStatus,
)
from schedule.services.deviations_corrections import NOT_CORRECTED_HERE

PER_PAGE = 25
WORKLIST_ROWS = 25
HISTORY_ROWS = 20
RELATED = ("participant__site", "visit__definition", "assessment__definition")


def deviations_of(user):
    """The deviations the user may see, with what their rows show, in one query."""
    return access.visible(user, Deviation).select_related(*RELATED)


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise ValidationError("Enter a month as YYYY-MM, e.g. 2026-03.") from None


class DeviationFilter(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(
        field_name="participant__site",
        label="Site",
        queryset=Site.objects.none(),
        empty_label="All my sites",
        to_field_name="code",
    )
    category = django_filters.ChoiceFilter(
        choices=DeviationCategory.choices, empty_label="Any category"
    )
    importance = django_filters.ChoiceFilter(
        choices=DeviationImportance.choices, empty_label="Important or not"
    )
    status = django_filters.ChoiceFilter(choices=DeviationStatus.choices, empty_label="Any status")
    month = django_filters.CharFilter(
        label="Month occurred",
        method="filter_month",
        validators=[_month],
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )
    to_describe = django_filters.BooleanFilter(
        label="Drafts waiting for a description",
        method="filter_to_describe",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Deviation
        fields = ["site", "category", "importance", "status", "month", "to_describe"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's own sites can be chosen; another site's code is simply not valid.
        self.filters["site"].queryset = access.visible_sites(user).order_by("code")

    def filter_month(self, queryset, name, value):
        first = _month(value)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        return queryset.filter(occurred_on__gte=first, occurred_on__lt=after)

    def filter_to_describe(self, queryset, name, value):
        # An unticked checkbox means "every deviation".
        return queryset.to_describe() if value else queryset


def counts(queryset) -> dict:
    """The filtered rows counted by status and importance, in one query."""
    by_status = {
        f"n_{status}": Count("pk", filter=Q(status=status)) for status in DeviationStatus.values
    }
    return queryset.order_by().aggregate(
        total=Count("pk"), important=Count("pk", filter=Q(importance="important")), **by_status
    )


class DeviationListView(LoginRequiredMixin, SingleTableMixin, FilterView):
    table_class = DeviationTable
    filterset_class = DeviationFilter
    template_name = "dashboard/deviations.html"

    def get_queryset(self):
        return deviations_of(self.request.user).order_by("-occurred_on", "-pk")

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["user"] = self.request.user
        return kwargs

    def get_table_pagination(self, table):
        if self.request.GET.get("_export") in EXPORT_FORMATS:
            return False  # a download holds every filtered row
        return {"per_page": PER_PAGE}

    def render_to_response(self, context, **kwargs):
        wanted = self.request.GET.get("_export")
        if wanted in EXPORT_FORMATS:
            # Read in chunks and written as read (CSV streamed, XLSX row by row).
            return stream_table(context["table"], wanted, "deviations")
        return super().render_to_response(context, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.GET.get("_export") not in EXPORT_FORMATS:
            context["counts"] = counts(self.object_list)
            context["statuses"] = [
                (value, label, context["counts"][f"n_{value}"])
                for value, label in DeviationStatus.choices
            ]
        return context


def listing_url(**params) -> str:
    return f"{reverse('dashboard:deviations')}?{urlencode(params)}"


# --- One deviation ------------------------------------------------------------------------------


def _deviation_page(request, deviation, bound=None, status=200):
    """The deviation's facts, its history and the forms its status allows (`bound`: the one
    just posted, with its errors)."""
    writer = access.records_where_visible(request.user)
    forms_shown = []
    if writer:
        for slug, form_class in DEVIATION_FORMS.items():
            if not form_class.available(deviation):
                continue
            if bound is not None and bound[0] == slug:
                form = bound[1]
            else:
                form = form_class(deviation=deviation, user=request.user)
            forms_shown.append((slug, form))
    history = list(
        deviation.history.select_related("history_user").order_by("-history_date", "-history_id")[
            :HISTORY_ROWS
        ]
    )
    return render(
        request,
        "dashboard/deviation.html",
        {
            "d": deviation,
            "p": deviation.participant,
            "tz": deviation.participant.site.tz,
            "forms": forms_shown,
            "signature": signatures.signature_shown(deviation, deviation.participant.site.tz),
            "history": history,
        },
        status=status,
    )


@login_required
def deviation_detail(request, pk):
    deviation = access.get_visible_or_404(
        request.user, Deviation.objects.select_related(*RELATED), pk=pk
    )
    return _deviation_page(request, deviation)


@login_required
@require_http_methods(["POST"])
def deviation_action(request, pk, action):
    """One follow-up step: 404 at another site or for an unknown step, 403 for a read-only role."""
    form_class = DEVIATION_FORMS.get(action)
    if form_class is None:
        raise Http404("No such action.")
    deviation = access.get_recordable_or_403(
        request.user, Deviation.objects.select_related(*RELATED), pk=pk
    )
    target = reverse("dashboard:deviation", args=[deviation.pk])
    reference = deviation.reference
    if not form_class.available(deviation):
        messages.error(
            request,
            f"{reference} is {deviation.get_status_display().lower()}: "
            f"{form_class.title.lower()} is not possible now.",
        )
        return HttpResponseRedirect(target)
    form = form_class(request.POST, deviation=deviation, user=request.user)
    if form.is_valid() and signatures.may_sign(request, form):
        done = form.perform()
        # A wrong signature password counts like a failed log-in (after the service rolled back).
        signatures.record_refusal(request, form)
        if done is not None:
            if done == []:
                messages.info(request, f"{reference}: nothing changed.")
            else:
                messages.success(request, f"{reference} {form_class.done}.")
            return HttpResponseRedirect(target)
    return _deviation_page(request, deviation, bound=(action, form))


# --- Correcting a visit's date ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def visit_correct_date(request, pk):
    visit = selectors.visit_to_record(request.user, pk)
    back = reverse("dashboard:participant", args=[visit.participant_id]) + "#deviations"
    if visit.status != VisitStatus.DONE or visit.definition.kind in NOT_CORRECTED_HERE:
        raise Http404("This visit's date is not corrected here.")
    form = VisitDateCorrectForm(request.POST or None, visit=visit, user=request.user)
    label = str(visit)
    if request.method == "POST" and form.is_valid() and form.perform() is not None:
        messages.success(request, f"{label}: date corrected.")
        return HttpResponseRedirect(safe_next(request, back))
    return render(
        request,
        "dashboard/deviation_visit_date.html",
        {
            "form": form,
            "visit": visit,
            "p": visit.participant,
            "window": fmt_window(visit.window_start, visit.window_end),
            "recorded": fmt_date(visit.actual_date),
            "back": back,
        },
    )


def correctable_visits(visits) -> list:
    """Of the participant page's visits (already read), those whose date can be corrected here."""
    return [
        v
        for v in visits
        if v.status == VisitStatus.DONE and v.definition.kind not in NOT_CORRECTED_HERE
    ]


# --- The participant page and the worklist -------------------------------------------------------


def participant_deviation_table(user, participant, visits) -> ParticipantDeviationTable:
    """The participant's deviations, their visits and assessments taken from `visits` (the page's
    timeline, assessments prefetched) instead of joined: PostgreSQL merge-joined the deviations
    to the whole visit table's primary key (36 ms at 10k participants, 100k visits)."""
    rows = list(
        access.visible(user, Deviation)
        .filter(participant=participant)
        .select_related("participant__site")
        .order_by("occurred_on", "pk")
    )
    by_visit = {v.pk: v for v in visits}
    by_assessment = {a.pk: a for v in visits for a in v.assessments.all()}
    for row in rows:
        if row.visit_id in by_visit:
            row.visit = by_visit[row.visit_id]
        if row.assessment_id in by_assessment:
            row.assessment = by_assessment[row.assessment_id]
    return ParticipantDeviationTable(rows)


def worklist_section(user, can_record: bool) -> dict:
    """The worklist's "drafts waiting for a description", oldest first, capped at WORKLIST_ROWS
    with the full count and a link to the deviations page filtered the same way."""
    drafts = deviations_of(user).to_describe().order_by("identified_at", "pk")
    # The first rows (from deviation_to_describe_idx, in order) and the total, in one query.
    shown, total = capped.first_rows(drafts, WORKLIST_ROWS)
    return {
        "key": "deviation_drafts",
        "title": "Deviations to describe",
        "help": "Deviations the tracker drafted (a visit out of window or missed, a safety item "
        "overdue or not done, a pre-dose override), waiting for the site's description.",
        "table": DraftDeviationTable(shown, can_record=can_record),
        "count": total,
        "alert": False,
        "more": listing_url(to_describe="on"),
        "more_label": "in the deviations page",
        "export": lambda: DraftDeviationTable(drafts),
    }
