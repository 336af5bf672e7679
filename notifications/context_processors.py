from django.utils import timezone

from notifications.selectors import heartbeat_problem


def heartbeat(request) -> dict:
    """`heartbeat_problem`: a short message when the periodic jobs have stopped (staff only)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {"heartbeat_problem": None}
    return {"heartbeat_problem": heartbeat_problem(timezone.now())}
