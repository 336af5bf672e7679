"""Adverse events: the study-wide listing (filtered, sorted, paginated, downloadable), recording
an event and the actions on one, and the adverse-event parts of the worklist and participant page.
Reads come from safety.selectors (scoped by participants.access); writes go through the safety
services via dashboard/safety_forms.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin

from dashboard import capped
from dashboard import selectors as dashboard_selectors
from dashboard.episode_forms import EpisodeResolveForm
from dashboard.filters import AdverseEventFilter
from dashboard.safety_forms import EVENT_FORMS, AdverseEventForm, PregnancyForm
from dashboard.tables import (
    AdverseEventTable,
    FollowUpTable,
    ParticipantEventTable,
    SaeClockTable,
)
from dashboard.tables.safety import irb_clock_text, sponsor_clock_text
from dashboard.views._common import EXPORT_FORMATS, Export
from dashboard.views.episodes import EPISODE_KINDS
from participants import access
from safety import selectors
from safety.models import AdverseEvent

PER_PAGE = 25
WORKLIST_ROWS = 25  # each worklist section shows this many; "see all" opens the listing


class AdverseEventListView(LoginRequiredMixin, ExportMixin, SingleTableMixin, FilterView):
    table_class = AdverseEventTable
    filterset_class = AdverseEventFilter
    template_name = "dashboard/adverse_events.html"
    export_class = Export
    export_name = "adverse-events"
    export_formats = EXPORT_FORMATS

    def get_queryset(self):
        return selectors.ae_listing(self.request.user)

    def get_table_kwargs(self):
        return {"now": timezone.now()}

    def get_table_pagination(self, table):
        # A download holds every filtered row, not the page on screen.
        if self.request.GET.get(self.export_trigger_param) in EXPORT_FORMATS:
            return False
        return {"per_page": PER_PAGE}

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["user"] = self.request.user
        return kwargs


def listing_url(**params) -> str:
    return f"{reverse('dashboard:adverse_events')}?{urlencode(params)}"


# --- The participant page and the worklist --------------------------------------------------


def participant_event_table(events, can_record: bool) -> ParticipantEventTable:
    """`events` from safety.selectors.participant_events (the episodes section reads the same rows)."""
    return ParticipantEventTable(events, now=timezone.now(), can_record=can_record)


def worklist_sections(user, now, can_record: bool) -> list[dict]:
    """The worklist's two adverse-event sections, each capped at WORKLIST_ROWS rows with its
    full count and a link to the listing filtered the same way. `export` builds the download,
    which holds every row (a capped download would silently drop SAEs)."""
    clocks = selectors.sae_clocks(user, now)
    follow_up = selectors.open_above_grade_2(user)
    # The first rows and the total in one query.
    shown, total = capped.first_rows(follow_up, WORKLIST_ROWS)
    return [
        {
            "key": "sae_clocks",
            "title": "SAE clocks",
            "help": "Serious adverse events not yet reported to the sponsor (due 24 h after the "
            "site became aware), soonest first.",
            "table": SaeClockTable(clocks[:WORKLIST_ROWS], can_record=can_record),
            "count": len(clocks),
            "alert": bool(clocks),
            "more": listing_url(unreported="on", sort="sponsor_due"),
            "export": lambda: SaeClockTable(clocks),
        },
        {
            "key": "ae_follow_up",
            "title": "Adverse events above grade 2, unresolved",
            "help": "Followed until they resolve or improve to grade 2 or less (lymphopenia "
            "and alopecia excepted).",
            "table": FollowUpTable(shown, can_record=can_record),
            "count": total,
            "alert": False,
            "more": listing_url(follow_up="on"),
            "export": lambda: FollowUpTable(follow_up),
        },
    ]


# --- Recording --------------------------------------------------------------------------------


def _form_page(request, form, participant, event=None):
    """Show `form`; on a valid POST that the service accepts, go back to the participant page.

    The target URL and the message's words are read before the service commits, and nothing
    after the commit touches the database: a saved entry can never come back as an error page.
    """
    target = reverse("dashboard:participant", args=[participant.pk]) + "#adverse-events"
    label = participant.label
    if request.method == "POST" and form.is_valid():
        saved = form.perform()
        if saved is not None:
            messages.success(request, f"{label}-AE{saved.number} {form.done}.")
            return redirect(target)
    now = timezone.now()
    context = {"form": form, "p": participant, "event": event, "title": form.title}
    if event is not None:
        context["sponsor_clock"] = sponsor_clock_text(selectors.sae_clock(event, now))
        context["irb_clock"] = irb_clock_text(selectors.irb_clock(event, now))
    return render(request, "dashboard/ae_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def ae_new(request, pk):
    """Record an adverse event: 404 at another site, 403 for a read-only role."""
    participant = dashboard_selectors.participant_to_record(request.user, pk)
    form = AdverseEventForm(request.POST or None, participant=participant, user=request.user)
    return _form_page(request, form, participant)


@login_required
@require_http_methods(["GET", "POST"])
def pregnancy_new(request, pk):
    """Record a pregnancy (starts the SAE clock): 404 at another site, 403 for a read-only role."""
    participant = dashboard_selectors.participant_to_record(request.user, pk)
    form = PregnancyForm(request.POST or None, participant=participant, user=request.user)
    return _form_page(request, form, participant)


@login_required
@require_http_methods(["GET", "POST"])
def ae_action(request, pk, action):
    """One action on an event (EVENT_FORMS): 404 at another site, 403 for a read-only role.

    A CRS or ICANS episode is graded from findings, never by a typed grade: its re-grade is the
    re-assessment page, and its resolution also releases the infusion hold it put."""
    if action not in EVENT_FORMS:
        raise Http404("No such action.")
    event = access.get_recordable_or_403(
        request.user, AdverseEvent.objects.select_related("participant__site"), pk=pk
    )
    episode = event.kind in EPISODE_KINDS
    if episode and action == "regrade":
        return redirect("dashboard:episode_reassess", pk=event.pk)
    form_class = EpisodeResolveForm if episode and action == "resolve" else EVENT_FORMS[action]
    participant = event.participant
    if not form_class.available(event):
        messages.error(
            request, f"{event.reference}: {form_class.title.lower()} is not possible now."
        )
        return redirect(reverse("dashboard:participant", args=[participant.pk]) + "#adverse-events")
    form = form_class(request.POST or None, event=event, user=request.user)
    return _form_page(request, form, participant, event)
