from django.contrib import admin, messages
from django.utils import timezone

from dashboard.models import CalendarFeedToken


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(admin.ModelAdmin):
    """Lets an administrator cut off a leaked calendar address; the key itself is not shown."""

    list_display = ["user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    fields = ["user", "created_at", "last_used_at", "revoked_at"]
    # Revoked only by the action (a revoked address never comes back to life).
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_revoke_permission(self, request):
        """Anyone who sees the list may revoke their own addresses; the action skips others'."""
        return self.has_view_or_change_permission(request)

    @admin.action(description="Revoke the selected calendar addresses", permissions=["revoke"])
    def revoke(self, request, queryset):
        if not request.user.is_superuser:
            others = queryset.exclude(user=request.user).count()
            if others:
                self.message_user(
                    request,
                    f"{others} address(es) of other users skipped: only the administrator "
                    "revokes another user's calendar address.",
                    messages.WARNING,
                )
            queryset = queryset.filter(user=request.user)
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{n} calendar address(es) revoked.")
