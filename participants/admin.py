import contextlib
import functools

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import Http404
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from participants import access
from participants.models import Apheresis, Eligibility, Site, StaffProfile, StatusChange
from participants.times import local_time_html

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

    def get_list_display(self, request):
        # A row with a site shows its times in that site's zone, UTC on hover; lists of rows
        # without a site stay in UTC (the format says so: sle001/formats).
        names = super().get_list_display(request)
        if not hasattr(self.model, "SITE_PATH"):
            return names
        return [site_time_column(self.model, n) if _is_moment(self.model, n) else n for n in names]

    def get_list_select_related(self, request):
        # The site of each row, for its zone, in the list's one query.
        related = super().get_list_select_related(request)
        path = getattr(self.model, "SITE_PATH", "pk")
        names = super().get_list_display(request)
        if path == "pk" or related is True or not any(_is_moment(self.model, n) for n in names):
            return related
        # False means "the foreign keys shown": name them, since a list replaces Django's choice.
        shown = related or [n for n in names if _is_foreign_key(self.model, n)]
        return [*shown, path]

    def recordable_or_403(self, request, pk, queryset=None):
        """The row for a recording form: 404 when the user cannot see it, 403 when their role
        or site does not let them record it (participants.access decides both)."""
        queryset = self.get_queryset(request) if queryset is None else queryset
        obj = access.get_recordable_or_403(request.user, queryset, pk=pk)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django answers an id outside the (site-scoped) queryset with "does not exist" and a
        # redirect to the admin index; another site's record must look like no record at all,
        # the same 404 as the dashboard's (participants.access.get_visible_or_404).
        if hasattr(self.model, "SITE_PATH"):
            raise Http404("No such record.")
        return super()._get_obj_does_not_exist_redirect(request, opts, object_id)

    def _check_visible(self, request, object_id) -> None:
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404

    def in_site_zone(self, request, object_id):
        """A record's pages show its times in its site's zone, with the zone's abbreviation
        (sle001/formats); lists and records without a site stay in UTC."""
        obj = None
        if object_id is not None and hasattr(self.model, "SITE_PATH"):
            obj = self.get_queryset(request).filter(pk=object_id).first()
        if obj is None:
            return contextlib.nullcontext()
        return timezone.override(access.site_of(obj).tz)

    def rendered_in_site_zone(self, request, object_id, view, *args):
        # A TemplateResponse renders after the view returns: render it inside the zone.
        with self.in_site_zone(request, object_id):
            response = view(request, object_id, *args)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def history_view(self, request, object_id, extra_context=None):
        self._check_visible(request, object_id)
        return self.rendered_in_site_zone(request, object_id, super().history_view, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._check_visible(request, object_id)
        if request.method != "GET":
            raise PermissionDenied("History is read-only: record changes through the forms.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    def get_actions(self, request):
        # An action on rows with a site runs only on the rows the user may record at (their own
        # sites, a recording role); the others are skipped and the user is told how many.
        actions = super().get_actions(request)
        if not hasattr(self.model, "SITE_PATH"):
            return actions
        return {
            name: (_recordable_rows_only(func), name, description)
            for name, (func, _, description) in actions.items()
        }


def _field_or_none(model, name):
    if not isinstance(name, str):
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _is_moment(model, name) -> bool:
    return isinstance(_field_or_none(model, name), models.DateTimeField)


def _is_foreign_key(model, name) -> bool:
    return isinstance(_field_or_none(model, name), models.ForeignKey)


@functools.cache
def site_time_column(model, name: str):
    """A list column showing the row's `name` in its site's zone with the zone's abbreviation,
    UTC on hover (participants/times.py), sortable like the field itself."""
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def column(obj):
        moment = getattr(obj, name)
        return None if moment is None else local_time_html(moment, access.site_of(obj))

    column.__name__ = name
    return column


def _recordable_rows_only(action):
    @functools.wraps(action)
    def run(model_admin, request, queryset):
        path = model_admin.model.SITE_PATH
        allowed = queryset.filter(**{f"{path}__in": access.recordable_sites(request.user)})
        skipped = queryset.count() - allowed.count()
        if skipped:
            model_admin.message_user(
                request,
                f"{skipped} selected row(s) skipped: your role does not let you record at "
                "their site.",
                messages.WARNING,
            )
        if not allowed.exists():
            return None
        return action(model_admin, request, allowed)

    return run


def editable_field_names(model) -> list[str]:
    """Every field of `model` a change form could edit (the primary key aside)."""
    opts = model._meta
    return [f.name for f in (*opts.fields, *opts.many_to_many) if not f.primary_key]


NO_SAVE_BUTTONS = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
    "show_delete": False,
}


class ClinicalAdmin(AuditedAdmin):
    """Clinical records (every model with a site): each field is read-only in the change form,
    for every user, the administrator included, and the form is never saved. Clinical data
    changes only through the service forms the admins link to ("Record done", "Record
    result", the status changes...), which check the rules and participants.access.

    "change" permission gates those forms, and only on rows at a site where the user records.
    """

    def get_readonly_fields(self, request, obj=None):
        shown = list(super().get_readonly_fields(request, obj))
        return shown + [name for name in editable_field_names(self.model) if name not in shown]

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access.can_record(request.user, access.site_of(obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None and request.method == "POST":
            raise PermissionDenied(
                "Clinical records are not edited field by field: use the forms on the page."
            )
        extra_context = {**(extra_context or {}), **NO_SAVE_BUTTONS}
        return self.rendered_in_site_zone(
            request, object_id, super().changeform_view, form_url, extra_context
        )


class ReadOnlyAdmin(ClinicalAdmin):
    """Records written only by the services: viewable, never edited by hand."""

    def has_change_permission(self, request, obj=None):
        return False


class AdministratorOnlyAdmin(AuditedAdmin):
    """Set up by the administrator (a superuser): others at most read, whatever their group."""

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request)


@admin.register(Site)
class SiteAdmin(AdministratorOnlyAdmin):
    list_display = ["code", "name", "time_zone", "enrollment_target"]
    search_fields = ["code", "name"]


@admin.register(StaffProfile)
class StaffProfileAdmin(AdministratorOnlyAdmin):
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
    list_display = [
        "participant",
        "criteria_version",
        "assessed_on",
        "prepared_by",
        "signed_name",
        "signed_meaning",
        "signed_at",
    ]
    list_select_related = ["participant", "prepared_by"]


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


def _guard_axes_cleanup() -> None:
    """django-axes' admin (log-in lockouts, registered before this app's) offers "Clean up
    expired attempts", which deletes rows, to anyone who may view attempts: make it need the
    delete permission, as Django's own delete action does (the administrator only)."""
    from django.apps import apps

    if not apps.is_installed("axes"):
        return
    from axes.admin import AccessAttemptAdmin
    from axes.models import AccessAttempt

    class GuardedAccessAttemptAdmin(AccessAttemptAdmin):
        @admin.action(description="Clean up expired attempts", permissions=["delete"])
        def cleanup_expired_attempts(self, request, queryset):
            return super().cleanup_expired_attempts(request, queryset)

    if admin.site.is_registered(AccessAttempt):
        admin.site.unregister(AccessAttempt)
        admin.site.register(AccessAttempt, GuardedAccessAttemptAdmin)


_guard_axes_cleanup()
