"""The participant list, the participant page (with its adverse events and CRS/ICANS episodes),
registering a consent and the status changes."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from dashboard import selectors
from dashboard.filters import ParticipantFilter
from dashboard.forms import RegisterConsentForm
from dashboard.tables import HistoryTable, ParticipantTable, TimelineTable
from dashboard.tables.base import PAGE_SIZES, page_size, paginate
from dashboard.views import deviations, episodes, safety
from dashboard.views._common import EXPORT_FORMATS, export, stream_table
from participants import access, eligibility, signatures
from participants.models import Eligibility
from safety import selectors as safety_selectors
from schedule.forms import ACTIONS, actions_available


class ParticipantListView(LoginRequiredMixin, SingleTableMixin, FilterView):
    """The participants of the user's sites, a page at a time (?per_page= up to 100; sort and
    filters stay in the page links); ?_export=csv|xlsx streams every filtered row, sorted as shown,
    in constant memory."""

    table_class = ParticipantTable
    filterset_class = ParticipantFilter
    template_name = "dashboard/participants.html"

    def get_queryset(self):
        self.sites = selectors.sites_with_today(self.request.user)
        return selectors.participant_rows(self.request.user, sites=self.sites)

    def get_table(self, **kwargs):
        table = self.get_table_class()(data=self.get_table_data(), **self.get_table_kwargs())
        # The page size comes from page_size (capped), not from RequestConfig's own ?per_page=.
        RequestConfig(self.request, paginate=False).configure(table)
        if self.request.GET.get("_export") not in EXPORT_FORMATS:
            paginate(table, self.request)
        return table

    def render_to_response(self, context, **response_kwargs):
        export_format = self.request.GET.get("_export")
        if export_format in EXPORT_FORMATS:
            return stream_table(context["table"], export_format, "participants")
        return super().render_to_response(context, **response_kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Visible sites are the recordable ones for recording roles: no extra query for the link.
        context["can_register"] = access.records_where_visible(self.request.user) and bool(
            self.sites
        )
        context["page_sizes"] = PAGE_SIZES
        context["per_page"] = page_size(self.request)
        return context

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["user"] = self.request.user
        return kwargs


def status_actions(participant) -> list[tuple[str, str]]:
    """(url, title) of the status changes allowed now. A death is recorded on its own page, which
    links it to the participant's SAE (episodes.participant_death)."""
    return [
        (
            reverse("dashboard:participant_death", args=[participant.pk])
            if slug == "death"
            else reverse("dashboard:participant_action", args=[participant.pk, slug]),
            form.title,
        )
        for slug, form in actions_available(participant)
    ]


@login_required
def participant_detail(request, pk):
    page = selectors.participant_page(request.user, pk)
    here = reverse("dashboard:participant", args=[pk])
    # The participant is visible, so for a recording role its site is one of theirs.
    writer = access.records_where_visible(request.user)
    timeline = TimelineTable(
        page.visits, today=page.today, d0=page.d0, next_url=here, can_record=writer
    )
    history = HistoryTable(page.history)
    event_rows = safety_selectors.participant_events(request.user, page.participant)
    events = safety.participant_event_table(event_rows, writer)
    deviation_rows = deviations.participant_deviation_table(
        request.user, page.participant, page.visits
    )
    downloads = {
        "timeline": timeline,
        "history": history,
        "adverse_events": events,
        "deviations": deviation_rows,
    }
    wanted = request.GET.get("_table", "timeline")
    wanted = wanted if wanted in downloads else "timeline"
    response = export(request, downloads[wanted], f"{page.participant.label}-{wanted}")
    if response:
        return response
    return render(
        request,
        "dashboard/participant.html",
        {
            "page": page,
            "p": page.participant,
            "timeline": timeline,
            "history": history,
            "events": events,
            "deviations": deviation_rows,
            "correctable_visits": deviations.correctable_visits(page.visits) if writer else [],
            "episodes": episodes.episodes_of(page.participant, event_rows, writer),
            "actions": status_actions(page.participant) if writer else [],
            "can_record": writer,
            "d0_label": selectors.study_day(page.d0, page.d0) if page.d0 else "",
            "eligibility": eligibility_shown(page.participant),
        },
    )


def eligibility_shown(participant) -> dict | None:
    """The eligibility checklist for the page: its signature (name, meaning, site time and UTC),
    or the draft waiting for the investigator's. Read with the participant (select_related)."""
    try:
        checklist = participant.eligibility
    except Eligibility.DoesNotExist:
        return None
    criteria = eligibility.criteria(checklist.criteria_version)
    return {
        "checklist": checklist,
        "signature": signatures.signature_shown(checklist, participant.site.tz),
        "answered": sum(1 for c in criteria if c.code in checklist.answers),
        "criteria": len(criteria),
        "prepared_at": checklist.prepared_at.astimezone(participant.site.tz)
        if checklist.prepared_at
        else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def participant_new(request):
    """Register a consent: a new screening at one of the sites where the user may record."""
    sites = access.recordable_sites(request.user).order_by("code")
    if not sites.exists():
        raise access.ReadOnlyAccess()
    form = RegisterConsentForm(request.POST or None, sites=sites, user=request.user)
    if request.method == "POST" and form.is_valid():
        participant = form.perform()
        if participant is not None:
            messages.success(request, f"{participant.label} registered; screening started.")
            return redirect("dashboard:participant", pk=participant.pk)
    return render(request, "dashboard/consent_form.html", {"form": form, "title": form.title})


@login_required
@require_http_methods(["GET", "POST"])
def participant_action(request, pk, action):
    form_class = ACTIONS.get(action)
    if form_class is None:
        raise Http404("No such action.")
    participant = selectors.participant_to_record(request.user, pk)
    if not form_class.available(participant):
        messages.error(
            request,
            f"{form_class.title} is not possible while {participant.label} is "
            f"{participant.get_status_display().lower()}.",
        )
        return redirect("dashboard:participant", pk=pk)
    form = form_class(request.POST or None, participant=participant, user=request.user)
    if request.method == "POST" and form.is_valid() and signatures.may_sign(request, form):
        warnings = form.perform()
        # A wrong signature password counts like a failed log-in (after the service rolled back).
        signatures.record_refusal(request, form)
        if warnings is not None:
            for warning in warnings:
                messages.warning(request, warning)
            done = getattr(form, "success_message", "") or f"{form_class.title.lower()} recorded"
            messages.success(request, f"{participant.label}: {done}.")
            return redirect("dashboard:participant", pk=pk)
    return render(
        request,
        "dashboard/action.html",
        {
            "form": form,
            "p": participant,
            "title": form_class.title,
            "explanation": form.explanation,
        },
    )
