"""The Visit admin: assessments inline, and recording a visit as done or missed."""

from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from participants.admin import ClinicalAdmin
from schedule import forms as schedule_forms
from schedule.admin.base import ReadOnlyInline, render_service_form
from schedule.models import Assessment, AssessmentStatus, Visit


class AssessmentInline(ReadOnlyInline):
    model = Assessment
    fields = ["definition", "is_safety", "status", "due_at", "completed_at", "result", "record"]
    readonly_fields = fields

    class Media:
        css = {"all": ["schedule/admin.css"]}  # .overdue-flag

    def get_queryset(self, request):
        # __str__ of the inline rows names the visit and participant: fetch them in one query.
        return (
            super()
            .get_queryset(request)
            .select_related("definition", "visit__participant", "visit__definition")
        )

    @admin.display(description="")
    def record(self, assessment):
        if assessment.status not in (AssessmentStatus.PENDING, AssessmentStatus.DONE):
            return ""
        overdue = assessment.is_overdue(timezone.now())
        return format_html(
            '{}<a href="{}">Record result</a>',
            mark_safe('<strong class="overdue-flag">OVERDUE </strong>') if overdue else "",
            reverse("admin:schedule_assessment_result", args=[assessment.pk]),
        )


@admin.register(Visit)
class VisitAdmin(ClinicalAdmin):
    list_display = [
        "__str__",
        "target_date",
        "window_start",
        "window_end",
        "status",
        "actual_date",
        "in_window",
    ]
    list_filter = [
        "status",
        "definition__code",
        ("participant__site", admin.RelatedOnlyFieldListFilter),
        "in_window",
    ]
    search_fields = ["participant__study_id", "participant__screening_number"]
    list_select_related = ["participant", "definition"]
    date_hierarchy = "target_date"
    inlines = [AssessmentInline]
    readonly_fields = [
        "participant",
        "definition",
        "occurrence",
        "status",
        "target_date",
        "window_start",
        "window_end",
        "actual_date",
        "started_at",
        "in_window",
        "dose",
        "lot",
        "reason",
        "recorded_by",
        "recorded_at",
    ]
    exclude = []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("participant__site", "definition")

    def get_urls(self):
        return [
            path(
                "<int:pk>/done/",
                self.admin_site.admin_view(self.done_view),
                name="schedule_visit_done",
            ),
            path(
                "<int:pk>/missed/",
                self.admin_site.admin_view(self.missed_view),
                name="schedule_visit_missed",
            ),
            *super().get_urls(),
        ]

    def _visit_or_404(self, request, pk):
        return self.recordable_or_403(
            request, pk, self.get_queryset(request).select_related("participant__site")
        )

    def done_view(self, request, pk):
        visit = self._visit_or_404(request, pk)
        form = schedule_forms.VisitDoneForm(request.POST or None, visit=visit, user=request.user)
        return render_service_form(
            request,
            self,
            obj=visit,
            form=form,
            back_url=reverse("admin:participants_participant_change", args=[visit.participant_id]),
        )

    def missed_view(self, request, pk):
        visit = self._visit_or_404(request, pk)
        form = schedule_forms.VisitMissedForm(request.POST or None, visit=visit, user=request.user)
        return render_service_form(
            request,
            self,
            obj=visit,
            form=form,
            back_url=reverse("admin:participants_participant_change", args=[visit.participant_id]),
        )
