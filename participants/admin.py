from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from participants import access
from participants.models import Apheresis, Eligibility, Site, StaffProfile, StatusChange

admin.site.site_header = "SLE-001 tracker administration"
admin.site.site_title = "SLE-001 tracker"
admin.site.index_title = "Participants, visits and the protocol"


class AuditedAdmin(SimpleHistoryAdmin):
    """Change history to read, never to write back.

    django-simple-history's history pages look the object up without the admin's queryset (so
    without the per-site scoping) and save a historical version on POST ("revert"). Clinical
    records change only through the services, so history is read-only here and scoped like the
    change list.
    """

    def get_queryset(self, request):
        # Every list, page and history view of a model with a site (SITE_PATH) is scoped by
        # participants.access: managers and monitors see all sites, others their own.
        queryset = super().get_queryset(request)
        if not hasattr(self.model, "SITE_PATH"):
            return queryset
        return access.visible(request.user, queryset)

    def recordable_or_403(self, request, pk, queryset=None):
        """The row for a recording form: 404 when the user cannot see it, 403 when their role
        or site does not let them record it (participants.access decides both)."""
        queryset = self.get_queryset(request) if queryset is None else queryset
        obj = access.get_recordable_or_403(request.user, queryset, pk=pk)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _check_visible(self, request, object_id) -> None:
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._check_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._check_visible(request, object_id)
        if request.method != "GET":
            raise PermissionDenied("History is read-only: record changes through the forms.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True


class ReadOnlyAdmin(AuditedAdmin):
    """Records written only by the services: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    list_display = ["code", "name", "time_zone", "enrollment_target"]
    search_fields = ["code", "name"]


@admin.register(StaffProfile)
class StaffProfileAdmin(AuditedAdmin):
    list_display = ["user", "role", "reminder_mode"]
    list_filter = ["role", ("sites", admin.RelatedOnlyFieldListFilter)]
    filter_horizontal = ["sites"]
    search_fields = ["user__username"]


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["participant", "from_status", "to_status", "effective_on", "changed_by"]
    list_filter = ["to_status", ("participant__site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["participant__study_id", "participant__screening_number"]
    list_select_related = ["participant", "changed_by"]


@admin.register(Eligibility)
class EligibilityAdmin(ReadOnlyAdmin):
    list_display = ["participant", "criteria_version", "assessed_on", "signed_off_by"]
    list_select_related = ["participant", "signed_off_by"]


@admin.register(Apheresis)
class ApheresisAdmin(ReadOnlyAdmin):
    list_display = [
        "participant",
        "collected_on",
        "adequate_collection",
        "product_id",
        "manufacturing_failed_on",
    ]
    list_select_related = ["participant"]
    search_fields = ["product_id", "participant__study_id"]
