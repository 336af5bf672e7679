from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from notifications.selectors import heartbeat_status


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means the database is not usable
        return {"ok": False, "error": type(exc).__name__}


def _check_broker() -> dict:
    from sle001.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
        return {"ok": True, "transport": conn.transport_cls}
    except Exception as exc:  # kombu/redis raise several types; no URL (it may hold a password)
        return {"ok": False, "error": type(exc).__name__}


@never_cache
@require_GET
def healthz(request):
    """JSON health of the database, the broker and the periodic jobs; HTTP 503 when unhealthy."""
    jobs = heartbeat_status(timezone.now()) if (db := _check_database())["ok"] else []
    checks = {
        "database": db,
        "broker": _check_broker(),
        "periodic_jobs": {"ok": bool(jobs) and all(j["ok"] for j in jobs), "jobs": jobs},
    }
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
    )
