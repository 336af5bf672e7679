from django.utils import timezone

from notifications.selectors import heartbeat_problem


def heartbeat(request) -> dict:
    """`heartbeat_problem` (staff only): a short message when the periodic jobs have stopped, a
    safety email FAILED, or overdue safety items have nobody to alert. One query (the heartbeats,
    which carry the jobs' problem counts), as the dashboard's query budgets expect."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {"heartbeat_problem": None}
    return {"heartbeat_problem": heartbeat_problem(timezone.now())}
