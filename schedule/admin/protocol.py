"""The protocol admin (study manager): versions, visit and assessment definitions, amendments."""

from django import forms
from django.contrib import admin, messages

from participants.admin import AuditedAdmin
from schedule import services
from schedule.models import (
    AssessmentDefinition,
    ParticipantSchedule,
    ProtocolVersion,
    VisitDefinition,
)


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
