import hmac

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from notifications.models import JobHeartbeat
from notifications.selectors import heartbeat_status, job_problems, safety_emails_failed


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means the database is not usable
        return {"ok": False, "error": type(exc).__name__}


# /healthz answers within 2 s whatever the broker does: the probe's connect, its read and kombu's
# connection retries each give up after this long (a hung broker accepts and never answers).
BROKER_PROBE_SECONDS = 1


def _check_broker() -> dict:
    try:
        # The project's Celery app (sle001.celery), without this app importing the project.
        probe = current_app.connection_for_write(
            connect_timeout=BROKER_PROBE_SECONDS,
            transport_options={
                "socket_timeout": BROKER_PROBE_SECONDS,
                "socket_connect_timeout": BROKER_PROBE_SECONDS,
                "max_retries": 0,
            },
        )
        with probe as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_PROBE_SECONDS)
        return {"ok": True, "transport": conn.transport_cls}
    except Exception as exc:  # kombu/redis raise several types; no URL (it may hold a password)
        return {"ok": False, "error": type(exc).__name__}


def _may_see_details(request) -> bool:
    """Logged-in staff, or "Authorization: Bearer <HEALTHZ_TOKEN>" (no token when unset)."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.HEALTHZ_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())


@never_cache
@require_GET
def healthz(request):
    """Health of the database, the broker, the periodic jobs and the safety alerts; HTTP 503
    when any check fails. The load balancer gets {"ok": true|false} only; the checks (job names,
    counts, the broker's transport) go to staff and to the HEALTHZ_TOKEN bearer.

    Safety alerts count as health, not as a softer "degraded" state: a safety email that FAILED
    in the last 7 days and was not resent (safety_emails_failed), or overdue safety items that
    nobody can be emailed about (safety_alert_recipients), mean a safety alert reached nobody,
    which is as serious for this study as the jobs being stopped. Monitoring acts on the status
    code, so these make it 503 too; the body says which check failed. Resending the failed rows
    (admin) or adding staff clears it.
    """
    now = timezone.now()
    checks = {"database": _check_database(), "broker": _check_broker()}
    if checks["database"]["ok"]:
        beats = {b.name: b for b in JobHeartbeat.objects.all()}
        jobs = heartbeat_status(now, beats)
        failed = safety_emails_failed(now).count()  # counted now: a resend clears it at once
        nobody = job_problems(beats)["nobody_to_alert"]
    else:
        jobs, failed, nobody = [], None, None
    checks["periodic_jobs"] = {"ok": bool(jobs) and all(j["ok"] for j in jobs), "jobs": jobs}
    checks["safety_emails_failed"] = {"ok": failed == 0, "count": failed}
    checks["safety_alert_recipients"] = {"ok": nobody == 0, "nobody_to_alert": nobody}
    healthy = all(c["ok"] for c in checks.values())
    body = {"ok": healthy}
    if _may_see_details(request):
        body |= {"status": "ok" if healthy else "unhealthy", **checks}
    response = JsonResponse(body, status=200 if healthy else 503)
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
