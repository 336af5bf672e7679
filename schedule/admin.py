"""Admin for coordinators: participants with their visits, and forms that call the services.

The Participant admin lives here rather than in participants/ because it shows the visit schedule
inline and its actions move the schedule (participants must not import schedule).
Nothing clinical is edited field by field: status, dates and results change only through the
forms in schedule/forms.py, which call schedule.services.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from participants import access
from participants.admin import AuditedAdmin, ReadOnlyAdmin
from participants.models import Participant, StatusChange
from schedule import forms as schedule_forms
from schedule import services
from schedule.models import (
    Assessment,
    AssessmentDefinition,
    AssessmentStatus,
    ParticipantSchedule,
    ProtocolVersion,
    Reanchor,
    Visit,
    VisitDefinition,
    VisitStatus,
)


def render_service_form(request, model_admin, *, obj, form, back_url):
    """Show a service form (schedule/forms.py) in the admin; on success go back to `back_url`."""
    if request.method == "POST" and form.is_valid():
        result = form.perform()
        if result is not None:
            messages.success(request, f"{form_title(form)}: saved.")
            for warning in result if isinstance(result, list) else []:
                messages.warning(request, warning)
            return HttpResponseRedirect(back_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{form_title(form)} — {obj}" if obj else form_title(form),
        "form": form,
        "obj": obj,
        "back_url": back_url,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/schedule/service_form.html", context)


def form_title(form) -> str:
    return getattr(form, "title", "") or {
        schedule_forms.VisitDoneForm: "Record visit done",
        schedule_forms.VisitMissedForm: "Record visit missed",
        schedule_forms.AssessmentForm: "Record result",
    }.get(type(form), "Save")


class ReadOnlyInline(admin.TabularInline):
    """Rows shown for reading; they change only through the forms (services)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class VisitInline(ReadOnlyInline):
    model = Visit
    show_change_link = True
    fields = [
        "visit",
        "target_date",
        "window_start",
        "window_end",
        "status",
        "actual_date",
        "in_window",
        "record",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("definition", "participant")

    @admin.display(description="Visit")
    def visit(self, visit):
        return f"{visit.code} {visit.definition.name}"

    @admin.display(description="")
    def record(self, visit):
        if visit.status != VisitStatus.SCHEDULED:
            return ""
        return format_html(
            '<a class="button" href="{}">Record done</a> <a href="{}">Missed</a>',
            reverse("admin:schedule_visit_done", args=[visit.pk]),
            reverse("admin:schedule_visit_missed", args=[visit.pk]),
        )


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = ["from_status", "to_status", "effective_on", "reason", "changed_by", "changed_at"]
    readonly_fields = fields


@admin.register(Participant)
class ParticipantAdmin(AuditedAdmin):
    list_display = [
        "label",
        "site",
        "status",
        "phase",
        "consent_day",
        "first_infusion_day",
        "infusions_received",
    ]
    # Only the sites this user sees (the queryset is already scoped).
    list_filter = [("site", admin.RelatedOnlyFieldListFilter), "status", "phase"]
    search_fields = ["screening_number", "study_id"]
    list_select_related = ["site"]
    inlines = [VisitInline, StatusChangeInline]
    readonly_fields = [
        "site",
        "screening_number",
        "study_id",
        "status",
        "phase",
        "consent_at",
        "consent_form_version",
        "age_at_consent",
        "rescreen_of",
        "enrolled_on",
        "first_infusion_at",
        "first_infusion_dose",
        "first_infusion_lot",
        "infusions_received",
        "off_study_on",
        "safety_follow_up_continues",
        "rescreen_allowed",
        "protocol_version",
    ]
    change_form_template = "admin/schedule/participant_change_form.html"

    list_select_related = ["site"]

    def has_change_permission(self, request, obj=None):
        # The change page is read-only; "change" permission gates the action forms.
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Study id / screening no.", ordering="study_id")
    def label(self, p):
        return p.label

    @admin.display(description="Consent (C0)", ordering="consent_at")
    def consent_day(self, p):
        return p.consent_date

    @admin.display(description="First infusion (D0)", ordering="first_infusion_at")
    def first_infusion_day(self, p):
        return p.first_infusion_date

    @admin.display(description="Protocol")
    def protocol_version(self, p):
        schedule = ParticipantSchedule.objects.filter(participant=p).select_related("protocol")
        return schedule[0].protocol if schedule else "—"

    def get_urls(self):
        return [
            path(
                "<int:pk>/action/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="participants_participant_action",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a participant is registering a consent: the consent service lays out visits."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = schedule_forms.ConsentForm(
            request.POST or None, sites=access.recordable_sites(request.user), user=request.user
        )
        if request.method == "POST" and form.is_valid():
            participant = form.perform()
            if participant is not None:
                messages.success(request, f"{participant.label} registered; screening started.")
                return HttpResponseRedirect(
                    reverse("admin:participants_participant_change", args=[participant.pk])
                )
        return render_service_form(
            request,
            self,
            obj=None,
            form=form,
            back_url=reverse("admin:participants_participant_changelist"),
        )

    def action_view(self, request, pk, action):
        form_class = schedule_forms.ACTIONS.get(action)
        if form_class is None:
            raise Http404
        participant = self.recordable_or_403(request, pk)
        form = form_class(request.POST or None, participant=participant, user=request.user)
        return render_service_form(
            request,
            self,
            obj=participant,
            form=form,
            back_url=reverse("admin:participants_participant_change", args=[participant.pk]),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        participant = self.get_queryset(request).filter(pk=object_id).first()
        extra_context = extra_context or {}
        if participant is not None:
            extra_context["participant_actions"] = [
                (
                    form_class.title,
                    reverse("admin:participants_participant_action", args=[participant.pk, slug]),
                )
                for slug, form_class in schedule_forms.actions_available(participant)
            ]
            extra_context["reanchors"] = Reanchor.objects.filter(participant=participant)
        return super().change_view(request, object_id, form_url, extra_context)


class AssessmentInline(ReadOnlyInline):
    model = Assessment
    fields = ["definition", "is_safety", "status", "due_at", "completed_at", "result", "record"]
    readonly_fields = fields

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
            format_html('<strong style="color:#b00">OVERDUE </strong>') if overdue else "",
            reverse("admin:schedule_assessment_result", args=[assessment.pk]),
        )


@admin.register(Visit)
class VisitAdmin(AuditedAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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
class AssessmentAdmin(AuditedAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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


# --- The protocol (study manager) --------------------------------------------------------------


def protocol_in_use(protocol) -> bool:
    return ParticipantSchedule.objects.filter(protocol=protocol).exists()


class VisitDefinitionInline(admin.TabularInline):
    model = VisitDefinition
    extra = 0
    show_change_link = True
    fields = [
        "order",
        "code",
        "name",
        "period",
        "kind",
        "anchor",
        "target_offset",
        "window_before",
        "window_after",
        "min_days_after_previous",
        "missable",
    ]

    def has_change_permission(self, request, obj=None):
        return obj is None or not protocol_in_use(obj)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


class ProtocolVersionForm(forms.ModelForm):
    class Meta:
        model = ProtocolVersion
        fields = ["version", "name", "effective_on", "notes", "is_active"]

    def clean(self):
        cleaned = super().clean()
        # A version becomes the one new participants get: check it first, as loading does.
        if cleaned.get("is_active") and self.instance.pk:
            problems = services.protocol_problems(self.instance)
            if problems:
                raise forms.ValidationError(["This version cannot be made active:", *problems])
        return cleaned


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(AuditedAdmin):
    form = ProtocolVersionForm
    list_display = ["version", "name", "is_active", "effective_on"]
    inlines = [VisitDefinitionInline]
    actions = ["copy_as_amendment"]

    @admin.action(description="Copy as a new version (amendment) to edit")
    def copy_as_amendment(self, request, queryset):
        for protocol in queryset:
            new = services.protocol_copy_as_amendment(
                protocol, name=f"Amendment of v{protocol.version}"
            )
            messages.success(
                request,
                f"Version {new.version} created from v{protocol.version}; edit it, then make it "
                "active. Participants keep the version they were scheduled under.",
            )


class AssessmentDefinitionInline(admin.TabularInline):
    model = AssessmentDefinition
    extra = 0
    fields = [
        "order",
        "code",
        "name",
        "is_safety",
        "pre_dose",
        "max_age_hours",
        "due_hours_after_start",
        "condition",
    ]

    def has_change_permission(self, request, obj=None):
        return obj is None or not protocol_in_use(obj.protocol)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(AuditedAdmin):
    list_display = [
        "code",
        "name",
        "protocol",
        "anchor",
        "target_offset",
        "window_before",
        "window_after",
    ]
    list_filter = ["protocol", "period", "anchor"]
    inlines = [AssessmentDefinitionInline]

    def has_change_permission(self, request, obj=None):
        # A version that participants are scheduled under is frozen: amend by copying it.
        if obj is not None and protocol_in_use(obj.protocol):
            return False
        return super().has_change_permission(request, obj)


@admin.register(Reanchor)
class ReanchorAdmin(ReadOnlyAdmin):
    list_display = [
        "participant",
        "old_anchor",
        "new_anchor",
        "visits_moved",
        "changed_by",
        "changed_at",
    ]
    list_select_related = ["participant", "changed_by"]
