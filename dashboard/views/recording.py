"""Recording a visit as done or missed, and an assessment's result (or that it was not done)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from dashboard import selectors
from dashboard.forms import AssessmentNotDoneForm
from dashboard.tables import fmt_date, fmt_local, fmt_window
from dashboard.views._common import safe_next
from safety.forms import LabValuesForm
from schedule.forms import AssessmentForm, VisitDoneForm, VisitMissedForm
from schedule.models import AssessmentStatus


def _back(request, participant_id) -> HttpResponseRedirect:
    """After saving: to the safe `next` the form carried, else to the participant page."""
    return HttpResponseRedirect(
        safe_next(request, reverse("dashboard:participant", args=[participant_id]))
    )


@login_required
@require_http_methods(["GET", "POST"])
def visit_done(request, pk):
    visit = selectors.visit_to_record(request.user, pk)
    form = VisitDoneForm(request.POST or None, visit=visit, user=request.user)
    if request.method == "POST" and form.is_valid() and form.perform() is not None:
        messages.success(request, f"{visit} recorded as done.")
        return _back(request, visit.participant_id)
    return _visit_form(request, visit, form, "Record visit done")


@login_required
@require_http_methods(["GET", "POST"])
def visit_missed(request, pk):
    visit = selectors.visit_to_record(request.user, pk)
    form = VisitMissedForm(request.POST or None, visit=visit, user=request.user)
    if request.method == "POST" and form.is_valid() and form.perform() is not None:
        messages.success(request, f"{visit} recorded as missed.")
        return _back(request, visit.participant_id)
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
            "next": safe_next(request, ""),
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
    # Lab panels (CBC, IgG) take values with units; their grade and "abnormal" are computed.
    form_class = LabValuesForm if assessment.definition.lab_values else AssessmentForm
    form = form_class(
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
        return _back(request, participant.pk)
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
            "next": safe_next(request, ""),
            "lab_results": list(assessment.lab_results.all()),
        },
    )
