"""Pages of the coordinator dashboard. Thin: reads come from selectors (scoped by access), writes
go through the foundation's services via forms."""

import calendar as calendar_module
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin, TableExport
from icalendar import Calendar, Event

from dashboard import selectors
from dashboard.filters import ParticipantFilter
from dashboard.forms import AssessmentNotDoneForm, RegisterConsentForm
from dashboard.models import CalendarFeedToken
from dashboard.tables import (
    CalendarTable,
    HistoryTable,
    OverdueSafetyTable,
    ParticipantTable,
    TimelineTable,
    VisitTable,
    fmt_date,
    fmt_local,
    fmt_window,
)
from participants import access
from schedule.forms import (
    ACTIONS,
    AssessmentForm,
    VisitDoneForm,
    VisitMissedForm,
    actions_available,
)
from schedule.models import AssessmentStatus, VisitStatus

EXPORT_FORMATS = ("csv", "xlsx")


class Export(TableExport):
    """Only the two formats the dashboard offers (and whose libraries are installed)."""

    @classmethod
    def is_valid_format(cls, export_format):
        return export_format in EXPORT_FORMATS


def _export(request, table, name: str) -> HttpResponse | None:
    export_format = request.GET.get("_export")
    if export_format not in EXPORT_FORMATS:
        return None
    exporter = Export(export_format, table, dataset_kwargs={"title": name[:31]})
    return exporter.response(filename=f"{name}.{export_format}")


def _next_url(request, default: str) -> str:
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


def forbidden(request, exception=None) -> HttpResponse:
    """The 403 page (handler403) for a user who may see a site but not record there (monitors,
    managers): participants.access raises ReadOnlyAccess naming the site."""
    return render(
        request,
        "dashboard/forbidden.html",
        {"site": getattr(exception, "site", None)},
        status=403,
    )


# --- Worklist --------------------------------------------------------------------------------------


@login_required
def worklist(request):
    now = timezone.now()
    work = selectors.worklist(request.user, now)
    writer = access.records_where_visible(request.user)
    visit_kwargs = {
        "today_by_site": work.today_by_site,
        "next_url": reverse("dashboard:worklist"),
        "can_record": writer,
    }
    sections = [
        (
            "due_today",
            "Due today",
            "Visits whose target date is today.",
            VisitTable(work.due_today, **visit_kwargs),
        ),
        (
            "overdue_safety",
            "Overdue safety assessments",
            "Safety items past due with no result recorded.",
            OverdueSafetyTable(
                work.overdue_safety, next_url=reverse("dashboard:worklist"), can_record=writer
            ),
        ),
        (
            "closing_soon",
            f"Windows closing within {selectors.CLOSING_SOON_DAYS} days",
            f"Open visits whose window ends in the next {selectors.CLOSING_SOON_DAYS} days "
            "(visits due today are listed above).",
            VisitTable(work.closing_soon, **visit_kwargs),
        ),
        (
            "overdue_visits",
            "Visits with a closed window",
            "The window has closed and the visit is neither recorded as done nor as missed.",
            VisitTable(work.overdue_visits, **visit_kwargs),
        ),
        (
            "coming_up",
            "Next 7 days",
            "Visits whose target date is in the coming week.",
            VisitTable(work.coming_up, **visit_kwargs),
        ),
    ]
    wanted = request.GET.get("_table")
    for key, _title, _help, table in sections:
        if key == wanted:
            response = _export(request, table, f"worklist-{key}")
            if response:
                return response
    return render(
        request,
        "dashboard/worklist.html",
        {
            "sections": [
                {"key": k, "title": t, "help": h, "table": tb, "count": len(tb.rows)}
                for k, t, h, tb in sections
            ],
            "sites": work.sites,
        },
    )


# --- Participants ----------------------------------------------------------------------------------


class ParticipantListView(LoginRequiredMixin, ExportMixin, SingleTableMixin, FilterView):
    table_class = ParticipantTable
    filterset_class = ParticipantFilter
    template_name = "dashboard/participants.html"
    table_pagination = False
    export_class = Export
    export_name = "participants"
    export_formats = EXPORT_FORMATS

    def get_queryset(self):
        self.sites = selectors.sites_with_today(self.request.user)
        return selectors.participant_rows(self.request.user, sites=self.sites)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Visible sites are the recordable ones for recording roles: no extra query for the link.
        context["can_register"] = access.records_where_visible(self.request.user) and bool(
            self.sites
        )
        return context

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["user"] = self.request.user
        return kwargs


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
    label = page.participant.label
    wanted = request.GET.get("_table", "timeline")
    response = _export(request, history if wanted == "history" else timeline, f"{label}-{wanted}")
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
            "actions": [(slug, form.title) for slug, form in actions_available(page.participant)]
            if writer
            else [],
            "can_record": writer,
            "d0_label": selectors.study_day(page.d0, page.d0) if page.d0 else "",
        },
    )


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
    if request.method == "POST" and form.is_valid():
        warnings = form.perform()
        if warnings is not None:
            for warning in warnings:
                messages.warning(request, warning)
            messages.success(request, f"{participant.label}: {form_class.title.lower()} recorded.")
            return redirect("dashboard:participant", pk=pk)
    return render(
        request,
        "dashboard/action.html",
        {
            "form": form,
            "p": participant,
            "title": form_class.title,
            "explanation": form_class.explanation,
        },
    )


# --- Recording visits and assessments --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def visit_done(request, pk):
    visit = selectors.visit_to_record(request.user, pk)
    form = VisitDoneForm(request.POST or None, visit=visit, user=request.user)
    if request.method == "POST" and form.is_valid() and form.perform() is not None:
        messages.success(request, f"{visit} recorded as done.")
        return redirect(
            _next_url(request, reverse("dashboard:participant", args=[visit.participant_id]))
        )
    return _visit_form(request, visit, form, "Record visit done")


@login_required
@require_http_methods(["GET", "POST"])
def visit_missed(request, pk):
    visit = selectors.visit_to_record(request.user, pk)
    form = VisitMissedForm(request.POST or None, visit=visit, user=request.user)
    if request.method == "POST" and form.is_valid() and form.perform() is not None:
        messages.success(request, f"{visit} recorded as missed.")
        return redirect(
            _next_url(request, reverse("dashboard:participant", args=[visit.participant_id]))
        )
    return _visit_form(request, visit, form, "Record visit missed")


def _visit_form(request, visit, form, title):
    schedule = getattr(visit.participant, "schedule", None)
    d0 = schedule.infusion_anchor if schedule else None
    assessments = list(visit.assessments.select_related("definition").order_by("definition__order"))
    return render(
        request,
        "dashboard/visit_form.html",
        {
            "form": form,
            "title": title,
            "visit": visit,
            "p": visit.participant,
            "window": fmt_window(visit.window_start, visit.window_end),
            "target": fmt_date(visit.target_date),
            "day": selectors.study_day(d0, visit.target_date)
            if visit.definition.anchor == "first_infusion"
            else "",
            "assessments": assessments,
            "next": _next_url(request, ""),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def assessment_record(request, pk):
    assessment = selectors.assessment_to_record(request.user, pk)
    # Two forms on the page: the result, or "not done / not applicable". The submit button
    # says which one was sent; only that one is bound.
    posted = request.method == "POST"
    not_done_sent = posted and AssessmentNotDoneForm.SUBMIT in request.POST
    form = AssessmentForm(
        request.POST if posted and not not_done_sent else None,
        assessment=assessment,
        user=request.user,
    )
    not_done = None
    if assessment.status == AssessmentStatus.PENDING or not_done_sent:
        not_done = AssessmentNotDoneForm(
            request.POST if not_done_sent else None, assessment=assessment, user=request.user
        )
    participant = assessment.visit.participant
    sent = not_done if not_done_sent else form
    if posted and sent.is_valid() and (saved := sent.perform()) is not None:
        if not_done_sent:
            messages.success(request, f"{assessment}: {saved.get_status_display().lower()}.")
        else:
            messages.success(request, f"{assessment} recorded.")
        return redirect(_next_url(request, reverse("dashboard:participant", args=[participant.pk])))
    return render(
        request,
        "dashboard/assessment_form.html",
        {
            "form": form,
            "not_done": not_done,
            "a": assessment,
            "visit": assessment.visit,
            "p": participant,
            "window": fmt_window(assessment.visit.window_start, assessment.visit.window_end),
            "due": fmt_local(assessment.due_at, participant.site.tz),
            "overdue": assessment.is_overdue(timezone.now()),
            "next": _next_url(request, ""),
        },
    )


# --- Calendar --------------------------------------------------------------------------------------


def _parse_day(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


@login_required
def calendar(request):
    sites = selectors.sites_with_today(request.user)
    default_day = sites[0][1] if sites else timezone.now().date()
    view = "month" if request.GET.get("view") == "month" else "week"
    day = _parse_day(request.GET.get("date"), default_day)
    site = None
    if request.GET.get("site"):
        site = next((s for s, _ in sites if s.code == request.GET["site"]), None)
        if site is None:
            raise Http404("No such site.")
    if view == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
        previous, following = start - dt.timedelta(days=7), start + dt.timedelta(days=7)
        heading = f"Week of {fmt_date(start)}"
    else:
        first = day.replace(day=1)
        last = first.replace(day=calendar_module.monthrange(first.year, first.month)[1])
        start = first - dt.timedelta(days=first.weekday())
        end = last + dt.timedelta(days=6 - last.weekday())
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        following = last + dt.timedelta(days=1)
        heading = f"{first:%B %Y}"
    visits = list(selectors.calendar_visits(request.user, start, end, site))
    table = CalendarTable(visits)
    response = _export(request, table, f"calendar-{start.isoformat()}")
    if response:
        return response
    by_day: dict[dt.date, list] = {}
    for v in visits:
        by_day.setdefault(
            v.actual_date if v.status == VisitStatus.DONE else v.target_date, []
        ).append(v)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    weeks = [
        [
            {
                "day": d,
                "visits": by_day.get(d, []),
                "in_month": view == "week" or d.month == day.month,
            }
            for d in days[i : i + 7]
        ]
        for i in range(0, len(days), 7)
    ]
    return render(
        request,
        "dashboard/calendar.html",
        {
            "view": view,
            "heading": heading,
            "weeks": weeks,
            "today": default_day,
            "sites": [s for s, _ in sites],
            "site": site,
            "day": day,
            "previous": previous,
            "following": following,
            "table": table,
        },
    )


# --- iCal feed -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def feed_settings(request):
    if request.method == "POST":
        with transaction.atomic():
            live = CalendarFeedToken.objects.select_for_update().filter(
                user=request.user, revoked_at__isnull=True
            )
            live.update(revoked_at=timezone.now())
            if request.POST.get("action") == "create":
                CalendarFeedToken.objects.create(user=request.user)
                messages.success(
                    request, "A new calendar address was made; any older one no longer works."
                )
            else:
                messages.success(
                    request, "The calendar address was revoked; calendars using it stop updating."
                )
        return redirect("dashboard:feed_settings")
    token = CalendarFeedToken.objects.filter(user=request.user, revoked_at__isnull=True).first()
    url = request.build_absolute_uri(reverse("dashboard:feed", args=[token.key])) if token else ""
    return render(request, "dashboard/feed.html", {"token": token, "url": url})


def feed(request, key):
    """The iCal feed. No login (calendar clients cannot log in): the secret key is the login."""
    token = get_object_or_404(
        CalendarFeedToken.objects.select_related("user"),
        key=key,
        revoked_at__isnull=True,
        user__is_active=True,
    )
    CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    cal = Calendar()
    cal.add("prodid", "-//SLE-001 tracker//Visit calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "SLE-001 visits")
    now = timezone.now()
    for visit in selectors.feed_visits(token.user):
        # Study id (or screening number) and visit code only: the feed leaves the building.
        day = visit.actual_date if visit.status == VisitStatus.DONE else visit.target_date
        event = Event()
        event.add("uid", f"sle001-visit-{visit.pk}@{request.get_host().split(':')[0]}")
        event.add("dtstamp", now)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add("summary", f"{visit.participant.label} {visit.code}")
        event.add(
            "description",
            f"Window {fmt_window(visit.window_start, visit.window_end)} "
            f"(target {fmt_date(visit.target_date)}). Status: {visit.get_status_display()}.",
        )
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sle001-visits.ics"'
    response["Cache-Control"] = "private, no-store"
    return response
