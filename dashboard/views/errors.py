"""The 404 and 403 pages (handler404 and handler403 in sle001/urls.py), for the dashboard and the
admin alike: in the tracker's layout, with its navigation and a way back."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def way_back(request: HttpRequest) -> str:
    """The page the user came from when it is a page of this site, else the worklist."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        if referer != request.build_absolute_uri():
            return referer
    return reverse("dashboard:worklist")


def not_found(request, exception=None) -> HttpResponse:
    """Another site's record answers exactly like a record that does not exist (participants.
    access.get_visible_or_404, and the admin through participants.admin.AuditedAdmin)."""
    return render(request, "dashboard/not_found.html", {"back": way_back(request)}, status=404)


def forbidden(request, exception=None) -> HttpResponse:
    """The 403 page (handler403) for a user who may see a site but not record there (monitors,
    managers): participants.access raises ReadOnlyAccess naming the site."""
    return render(
        request,
        "dashboard/forbidden.html",
        {"site": getattr(exception, "site", None), "back": way_back(request)},
        status=403,
    )
