"""django-axes hooks (settings AXES_*): the lockout page and what axes' log lines say.

Axes counts failed log-ins per username and address on both log-in pages (the dashboard's and the
admin's), records each failure (admin: Access failures, Access attempts) and refuses a locked-out
pair before the password is checked. Unlock: `manage.py axes_reset_username USERNAME` (README).
"""

from django.conf import settings
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out log-in gets, in the tracker's layout (HTTP 429), on either page."""
    context = {"minutes": settings.LOGIN_LOCKOUT_MINUTES}
    return render(request, "registration/locked_out.html", context, status=429)


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """Who, in axes' log lines ("AXES: Locking out username 'alice' from 10.0.0.7 after..."):
    the username and the address, nothing else (no user agent). repr() keeps a username with a
    line break on one line."""
    return f"username {username!r} from {ip_address}"
