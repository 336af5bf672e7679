"""URLs: the coordinator dashboard at /, log-in at /accounts/, the admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

from notifications.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    # One's own notification settings and log (the notifications app's pages).
    path("notifications/", include("notifications.urls")),
    path("", include("dashboard.urls")),
]

# A PermissionDenied anywhere (dashboard or admin) gets the styled read-only page, which names
# the site when participants.access raised it.
handler403 = "dashboard.views.errors.forbidden"
# Not found (another site's record included) in the same layout, with a way back.
handler404 = "dashboard.views.errors.not_found"
