"""Safety events in the admin, for reading: they change only through safety.services. Lists and
pages are scoped by site through participants.admin.ReadOnlyAdmin (each model's SITE_PATH), and
their change history is read-only there too. The schedule's infusion holds and pre-dose overrides
are schedule's to show.
"""

from django.contrib import admin

from participants.admin import ReadOnlyAdmin
from safety.models import AdverseEvent, Grading, LabResult


class GradingInline(admin.TabularInline):
    """Every grading of the event, the first and each re-grading, with who and why."""

    model = Grading
    extra = 0
    can_delete = False
    fields = ["grade", "assessed_at", "reasons", "findings", "recorded_by", "recorded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event__participant", "recorded_by")


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "term",
        "grade",
        "serious",
        "onset_date",
        "resolved_on",
        "sponsor_report_due_at",
        "sponsor_reported_at",
    ]
    list_filter = [
        "serious",
        "grade",
        "kind",
        ("participant__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["participant__study_id", "participant__screening_number", "term"]
    list_select_related = ["participant__site"]
    date_hierarchy = "onset_date"
    inlines = [GradingInline]

    @admin.display(description="Event", ordering="participant")
    def reference(self, event):
        return event.reference


@admin.register(LabResult)
class LabResultAdmin(ReadOnlyAdmin):
    list_display = [
        "participant",
        "visit",
        "code",
        "value",
        "unit",
        "grade",
        "alert",
        "recorded_at",
    ]
    list_filter = [
        "code",
        "grade",
        "alert",
        ("assessment__visit__participant__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "assessment__visit__participant__study_id",
        "assessment__visit__participant__screening_number",
    ]
    list_select_related = ["assessment__visit__participant", "assessment__visit__definition"]

    @admin.display(description="Participant", ordering="assessment__visit__participant")
    def participant(self, result):
        return result.assessment.visit.participant.label

    @admin.display(description="Visit")
    def visit(self, result):
        return result.assessment.visit.code
