"""The Assessment admin: the overdue filter, and recording a result."""

from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone

from participants.admin import ClinicalAdmin
from schedule import forms as schedule_forms
from schedule.admin.base import render_service_form
from schedule.models import Assessment


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue safety items now")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue(timezone.now())
        return queryset


@admin.register(Assessment)
class AssessmentAdmin(ClinicalAdmin):
    list_display = ["__str__", "is_safety", "status", "due_at", "completed_at", "result", "late"]
    list_filter = [
        OverdueFilter,
        "is_safety",
        "status",
        ("visit__participant__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["visit__participant__study_id", "visit__participant__screening_number"]
    list_select_related = ["visit__participant", "visit__definition", "definition"]
    readonly_fields = [
        "visit",
        "definition",
        "is_safety",
        "status",
        "due_at",
        "completed_at",
        "result",
        "is_abnormal",
        "recorded_by",
        "overdue_flagged_at",
        "escalated_at",
    ]

    @admin.display(description="Late by")
    def late(self, assessment):
        return assessment.late_by or ""

    def get_urls(self):
        return [
            path(
                "<int:pk>/result/",
                self.admin_site.admin_view(self.result_view),
                name="schedule_assessment_result",
            ),
            *super().get_urls(),
        ]

    def result_view(self, request, pk):
        assessment = self.recordable_or_403(
            request, pk, self.get_queryset(request).select_related("visit__participant__site")
        )
        form = schedule_forms.AssessmentForm(
            request.POST or None, assessment=assessment, user=request.user
        )
        return render_service_form(
            request,
            self,
            obj=assessment,
            form=form,
            back_url=reverse("admin:schedule_visit_change", args=[assessment.visit_id]),
        )
