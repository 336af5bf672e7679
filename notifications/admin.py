from django.contrib import admin, messages
from django.db import transaction

from notifications import services
from notifications.models import JobHeartbeat, OutboxEmail
from participants.models import StaffRole


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    """The outbox: every email the tracker sent or will send, with its status and last error."""

    list_display = [
        "created_at",
        "kind",
        "to_email",
        "subject",
        "status",
        "send_after",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "kind", "send_after", "sent_at"]
    search_fields = ["to_email", "subject", "dedup_key"]
    date_hierarchy = "created_at"
    actions = ["resend"]
    readonly_fields = [f.name for f in OutboxEmail._meta.fields]
    list_select_related = ["recipient"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        profile = getattr(request.user, "staff_profile", None)
        if request.user.is_superuser or (profile is not None and profile.sees_all_sites):
            return qs
        return qs.filter(recipient=request.user)

    @admin.display(description="last error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request):
        """The administrator and study managers (emails carry no site: nothing else to check)."""
        if request.user.is_superuser:
            return True
        profile = getattr(request.user, "staff_profile", None)
        return profile is not None and profile.role == StaffRole.STUDY_MANAGER

    @admin.action(description="Send again (back to pending, due now)", permissions=["resend"])
    def resend(self, request, queryset):
        with transaction.atomic():
            count = services.outbox_resend(queryset)
        self.message_user(
            request,
            f"{count} email(s) queued again. Each is checked again before it is sent: one "
            "about a visit that is done or moved is cancelled.",
            messages.SUCCESS,
        )


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_finished_at", "last_summary"]
    readonly_fields = ["name", "last_started_at", "last_finished_at", "last_summary"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
