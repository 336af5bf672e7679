"""The protocol admin (study manager): versions, visit and assessment definitions, amendments."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

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


def frozen(obj) -> bool:
    """Is `obj` (a protocol version or a visit definition) part of a version in use?"""
    if obj is None:
        return False
    return protocol_in_use(obj if isinstance(obj, ProtocolVersion) else obj.protocol)


class ProtocolAdmin(AuditedAdmin):
    """Edited by whoever holds the model permissions (study managers, the administrator), and
    only while no participant is scheduled under the version: amend by copying it."""

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not frozen(obj)


class DefinitionInline(admin.TabularInline):
    """Definitions edited on their parent's page: by the model permissions, and never those of
    a version participants are scheduled under (`obj` is the parent)."""

    extra = 0

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not frozen(obj)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not frozen(obj)

    def has_delete_permission(self, request, obj=None):
        # Removing a row of a draft amendment is editing the draft.
        return self.has_change_permission(request, obj)


class VisitDefinitionInline(DefinitionInline):
    model = VisitDefinition
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
class ProtocolVersionAdmin(ProtocolAdmin):
    form = ProtocolVersionForm
    list_display = ["version", "name", "is_active", "effective_on"]
    inlines = [VisitDefinitionInline]
    actions = ["copy_as_amendment"]

    # Protocols have no site: the permission to add a version is the whole check.
    @admin.action(description="Copy as a new version (amendment) to edit", permissions=["add"])
    def copy_as_amendment(self, request, queryset):
        for protocol in queryset:
            try:
                new = services.protocol_copy_as_amendment(
                    protocol, name=f"Amendment of v{protocol.version}"
                )
            except ValidationError as refused:
                messages.error(
                    request, f"v{protocol.version} not copied: {' '.join(refused.messages)}"
                )
                continue
            messages.success(
                request,
                f"Version {new.version} created from v{protocol.version}; edit it, then make it "
                "active. Participants keep the version they were scheduled under.",
            )


class AssessmentDefinitionInline(DefinitionInline):
    model = AssessmentDefinition
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


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(ProtocolAdmin):
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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A definition is added to, or moved into, only a version nobody is scheduled under.
        if db_field.name == "protocol":
            kwargs["queryset"] = ProtocolVersion.objects.exclude(
                pk__in=ParticipantSchedule.objects.values("protocol")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
