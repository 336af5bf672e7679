"""A person's own notification pages: "My notifications" (digest or one email per item, which
reminder days) at /notifications/ and their notification log at /notifications/log/ (what was
sent to them, what is queued, what was cancelled and why). Served by the notifications app
itself: the dashboard and notifications never import each other."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from notifications.forms import NotificationSettingsForm
from notifications.models import OutboxStatus
from notifications.selectors import notifications_of
from participants.models import StaffProfile

LOG_PAGE_SIZE = 25


def _has_profile(user) -> bool:
    return StaffProfile.objects.filter(user=user).exists()


@login_required
@require_http_methods(["GET", "POST"])
def my_notifications(request):
    if not _has_profile(request.user):
        return render(request, "notifications/settings.html", {"form": None}, status=200)
    form = NotificationSettingsForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid() and form.save() is not None:
        messages.success(request, "Your notification settings are saved.")
        return redirect("notifications:settings")
    return render(request, "notifications/settings.html", {"form": form})


@login_required
def my_notification_log(request):
    """The user's own emails, newest first, LOG_PAGE_SIZE a page (?status= to filter)."""
    status = request.GET.get("status", "")
    status = status if status in OutboxStatus.values else ""
    paginator = Paginator(notifications_of(request.user, status=status), LOG_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/log.html",
        {"page": page, "status": status, "statuses": OutboxStatus.choices},
    )
