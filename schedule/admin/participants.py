"""The Participant admin: visits and status history inline, consent and status-change forms."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from participants import access
from participants.admin import ClinicalAdmin
from participants.models import Participant, StatusChange
from schedule import forms as schedule_forms
from schedule.admin.base import ReadOnlyInline, render_service_form
from schedule.models import ParticipantSchedule, Reanchor, Visit, VisitStatus


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
class ParticipantAdmin(ClinicalAdmin):
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

    def has_add_permission(self, request):
        # Adding is registering a consent (add_view runs the consent service).
        return admin.ModelAdmin.has_add_permission(self, request)

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
