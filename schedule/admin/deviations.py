"""The Deviation admin: read only, for monitors and study managers looking across sites. The site
describes, opens, closes or withdraws a deviation on the dashboard (/deviations/<id>/), whose
forms call schedule/services/deviations_follow_up.py."""

from django.contrib import admin

from participants.admin import ClinicalAdmin
from schedule.models import Deviation


@admin.register(Deviation)
class DeviationAdmin(ClinicalAdmin):
    list_display = [
        "participant",
        "category",
        "importance",
        "status",
        "occurred_on",
        "identified_at",
        "reported_to_irb_at",
    ]
    list_filter = [
        "status",
        "category",
        "importance",
        ("participant__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["participant__study_id", "participant__screening_number", "cause_key"]
    list_select_related = ["participant"]
    date_hierarchy = "occurred_on"
