"""The 403 page (handler403 in sle001/urls.py)."""

from django.http import HttpResponse
from django.shortcuts import render


def forbidden(request, exception=None) -> HttpResponse:
    """The 403 page (handler403) for a user who may see a site but not record there (monitors,
    managers): participants.access raises ReadOnlyAccess naming the site."""
    return render(
        request,
        "dashboard/forbidden.html",
        {"site": getattr(exception, "site", None)},
        status=403,
    )
