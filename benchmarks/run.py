"""The scale benchmark: synthetic studies of 1k, 10k and 50k participants on PostgreSQL, measured
as a one-site coordinator and as the study manager, with budgets that fail the run.

    .venv/bin/python -m benchmarks [--quick] [--database-url URL] [--repeats N] [--only NAMES]

--quick: 1k and 10k only. The database (default sle001_bench on 127.0.0.1) is DROPPED and
created anew first: never point it at a database you need. --only worklist,calendar: only the
operations whose name starts with one of these (pages and jobs alike; the jobs are skipped
unless named, so the pages then see none of the deviation drafts the 1k backlog run leaves);
the budgets are checked for what was measured.

For each page (worklist, participants list, a participant page, calendar month, participants
CSV export, enrollment report, /healthz) and role it prints the median and p95 time, the
queries, the response bytes and the ratio to the 1k study; for each job (overdue scan routine
and backlog, reminder scan) the same and the ratio to equivalent hand-written SQL timed in the
same run. It exits 1 when a budget of issue 11 is broken (BUDGETS below). Not part of the tests.
"""

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/sle001_bench"
MB = 1024 * 1024

from benchmarks.budgets import BUDGETS, cpu_times, report  # noqa: E402 (after the sys.path line)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")
    os.environ.setdefault("EMAIL_BACKEND", "locmem")
    os.environ.setdefault("DEBUG", "true")
    _create_database(database_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Measure what production runs: no query log kept in memory (counts come from
    # CaptureQueriesContext), no debug toolbar-like overheads; the test server name is allowed.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("migrate", verbosity=0)
    # /healthz answers 503 (no heartbeat in a synthetic study): not worth a log line per request.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    # Anew each run: a flush would also empty the protocol the migrations load.
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- Measuring ---------------------------------------------------------------------------------


def measure(operation, repeats: int) -> dict:
    """Run once to warm up and count queries and bytes, then `repeats` timed runs."""
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        size = operation() or 0
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median": statistics.median(times), "p95": p95, "queries": len(queries), "bytes": size}


def page(client, url: str):
    # /healthz says 503 here: no periodic job has run in the synthetic study (no heartbeat).
    allowed = (200, 503) if url == "/healthz" else (200,)

    def get():
        response = client.get(url)
        assert response.status_code in allowed, (url, response.status_code)
        if response.streaming:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    return get


def peak_mb(operation) -> float:
    """Peak Python memory of one run of `operation`, in MB (tracemalloc)."""
    tracemalloc.start()
    try:
        operation()
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def sql_timer(sql: str, params, repeats: int) -> float:
    """Median ms of a hand-written query, read to the end."""
    from django.db import connection

    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])


# --- What is measured --------------------------------------------------------------------------


def pages(study) -> dict:
    """(page, role) -> zero-argument callable returning the response bytes."""
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from participants.models import Participant

    site = study.sites[0]
    people = {
        "coordinator": study.people[f"coordinator-{site.code.lower()}"],
        "manager": study.people["manager"],
    }
    one = (
        Participant.objects.filter(site=site, schedule__infusion_anchor__isnull=False)
        .order_by("-pk")
        .first()
    )
    urls = {
        "worklist": "/",
        "participants list": reverse("dashboard:participants"),
        "participant page": reverse("dashboard:participant", args=[one.pk]),
        "calendar month": reverse("dashboard:calendar") + "?view=month",
        "participants CSV": reverse("dashboard:participants") + "?_export=csv",
        "/healthz": "/healthz",
    }
    try:
        urls["enrollment report"] = reverse("dashboard:enrollment_report")
    except NoReverseMatch:
        pass
    ops = {}
    for role, user in people.items():
        client = Client()
        client.force_login(user)
        for name, url in urls.items():
            ops[(name, role)] = page(client, url)
    return ops


def scan_queries(now) -> dict:
    """The hand-written SQL each scan stands for: its candidate reads over the partial indexes."""
    from django.conf import settings

    cutoff = now - dt.timedelta(hours=settings.OVERDUE_ESCALATION_HOURS)
    return {
        "overdue scan": [
            (
                "SELECT id, visit_id, due_at FROM schedule_assessment WHERE status = 'pending'"
                " AND is_safety AND overdue_flagged_at IS NULL AND due_at <= %s"
                " ORDER BY visit_id + 0, due_at, id LIMIT 1001",
                [now],
            ),
            (
                "SELECT id FROM schedule_assessment WHERE status = 'pending'"
                " AND escalated_at IS NULL AND overdue_flagged_at IS NOT NULL"
                " AND overdue_flagged_at <= %s LIMIT 1001",
                [cutoff],
            ),
            (
                "SELECT a.id FROM schedule_assessment a WHERE a.status = 'missed' AND a.is_safety"
                " AND a.missed_at >= %s AND NOT EXISTS (SELECT 1 FROM"
                " notifications_missedsafetyalert m WHERE m.assessment_id = a.id) LIMIT 1001",
                [now - dt.timedelta(days=14)],
            ),
        ],
        "reminder scan": [_reminder_candidates_sql(now), *_reminder_other_reads(now)],
    }


def _reminder_candidates_sql(now) -> tuple[str, list]:
    """The reminder scan's candidate read by hand: each site's scheduled visits due on its own
    reminder days (its today plus each day a coordinator chose) or whose window ends tomorrow."""
    from participants.models import Site, StaffProfile, StaffRole
    from participants.staff import reminder_days_of

    profiles = StaffProfile.objects.filter(role=StaffRole.COORDINATOR)
    days = sorted({n for p in profiles for n in reminder_days_of(p)})
    wanted, params = [], []
    for site in Site.objects.all():
        today = now.astimezone(site.tz).date()
        wanted.append("(v.site_id = %s AND (v.target_date = ANY(%s) OR v.window_end = %s))")
        params += [
            site.pk,
            [today + dt.timedelta(days=n) for n in days],
            today + dt.timedelta(days=1),
        ]
    sql = (
        "SELECT v.id, v.site_id, v.target_date, v.window_end FROM schedule_visit v"
        " JOIN participants_participant p ON p.id = v.participant_id"
        " WHERE v.status = 'scheduled' AND p.status <> 'lost_to_follow_up'"
        f" AND ({' OR '.join(wanted)}) ORDER BY v.target_date, v.id"
    )
    return sql, params


def _reminder_other_reads(now) -> list[tuple[str, list]]:
    """The rest of what the reminder scan must read, by hand: the coordinators with their sites
    and choices, every pending reminder row (each is re-checked against its visit), and the
    deviation drafts old enough for the digest."""
    from notifications.models import REMINDER_KINDS
    from notifications.services.deviation_digest import STALE_BUSINESS_DAYS

    return [
        (
            "SELECT u.id, u.email, p.reminder_mode, p.reminder_days, s.site_id FROM auth_user u"
            " JOIN participants_staffprofile p ON p.user_id = u.id"
            " JOIN participants_staffprofile_sites s ON s.staffprofile_id = p.id"
            " WHERE u.is_active AND u.email <> '' AND p.role = 'coordinator' ORDER BY u.id",
            [],
        ),
        (
            "SELECT id, kind, dedup_key, context FROM notifications_outboxemail"
            " WHERE status = 'pending' AND kind = ANY(%s) AND claimed_at IS NULL",
            [[str(kind) for kind in REMINDER_KINDS]],
        ),
        (
            "SELECT d.id, d.identified_at, s.id, s.time_zone FROM schedule_deviation d"
            " JOIN participants_participant p ON p.id = d.participant_id"
            " JOIN participants_site s ON s.id = p.site_id"
            " WHERE d.status = 'draft' AND d.identified_at <= %s ORDER BY d.identified_at, d.id",
            [now - dt.timedelta(days=STALE_BUSINESS_DAYS)],
        ),
    ]


JOBS = ("overdue scan (routine)", "reminder scan", "overdue scan (backlog)")


def jobs(study, repeats: int, wanted=lambda name: True) -> dict:
    """name -> result dict (with "vs_sql" and, for the backlog, "peak_mb" and "items"); only the
    jobs `wanted` says yes to."""
    from django.utils import timezone

    from notifications import services as notify

    now = timezone.now()
    results = {}
    hand = scan_queries(now)
    for name, run in (
        ("overdue scan (routine)", lambda: notify.overdue_scan(now=now) and 0),
        ("reminder scan", lambda: notify.reminders_scan(now=now) and 0),
    ):
        if not wanted(name):
            continue
        run()  # steady state: what a scan every 15 minutes (every hour) finds
        result = measure(run, repeats)
        key = "overdue scan" if "overdue" in name else "reminder scan"
        sql = sum(sql_timer(q, p, repeats) for q, p in hand[key])
        result["vs_sql"] = result["median"] / sql if sql else float("inf")
        results[name] = result
    if wanted("overdue scan (backlog)"):
        results["overdue scan (backlog)"] = backlog(now, hand["overdue scan"], repeats)
    return results


def backlog(now, hand, repeats: int) -> dict:
    """Up to BUDGETS["backlog_items"] overdue items unflagged (a scan outage), then one scan."""
    from notifications import services as notify
    from schedule.models import Assessment

    items = list(
        Assessment.objects.overdue(now)
        .order_by("pk")
        .values_list("pk", flat=True)[: BUDGETS["backlog_items"]]
    )
    Assessment.objects.filter(pk__in=items).update(overdue_flagged_at=None, escalated_at=None)
    start = time.perf_counter()
    peak = peak_mb(lambda: notify.overdue_scan(now=now))
    elapsed = (time.perf_counter() - start) * 1000
    sql = sum(sql_timer(q, p, repeats) for q, p in hand)
    return {
        "median": elapsed,
        "p95": elapsed,
        "queries": 0,
        "bytes": 0,
        "vs_sql": None,
        "items": len(items),
        "peak_mb": peak,
        "sql_ms": sql,
    }


# --- The run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scales", default="", help="e.g. 200,2000 (to try the benchmark out)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated name prefixes, e.g. 'worklist,calendar,overdue scan': measure "
        "only those pages and jobs",
    )
    args = parser.parse_args()
    prefixes = [p.strip() for p in args.only.split(",") if p.strip()]

    def wanted(name: str) -> bool:
        return not prefixes or any(name.startswith(p) for p in prefixes)

    began = cpu_times()  # the share the host takes from a VM's CPUs is printed with the results
    setup_django(args.database_url)

    from django.utils import timezone

    from benchmarks import bulkload
    from sle001.runtime import freeze_startup_objects

    scales = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]
    if args.scales:
        scales = [int(n) for n in args.scales.split(",")]
    study = bulkload.Study(timezone.now().date())
    results, rates = {}, {}
    for scale in scales:
        start = time.perf_counter()
        added = study.build(scale)
        rates[scale] = added / (time.perf_counter() - start)
        bulkload.settle()  # measured as a running database is, not during autovacuum
        print(f"{scale}: {bulkload.counts()} ({rates[scale]:,.0f} participants/s)", file=sys.stderr)
        # What wsgi.py does in each web worker once the application is loaded (the build's
        # own objects are gone in a real worker; frozen here, they are out of the way too).
        freeze_startup_objects()
        with_scale = {}
        for key, operation in pages(study).items():
            if wanted(key[0]):
                with_scale[key] = measure(operation, args.repeats)
        if wanted("participants CSV (memory)"):
            csv_op = pages(study)[("participants CSV", "manager")]
            with_scale[("participants CSV (memory)", "manager")] = {
                **(
                    with_scale.get(("participants CSV", "manager")) or measure(csv_op, args.repeats)
                ),
                "peak_mb": peak_mb(csv_op),
                "items": scale,
                "sql_ms": 0,
            }
        if any(wanted(name) for name in JOBS):
            for name, result in jobs(study, args.repeats, wanted).items():
                with_scale[(name, "job")] = result
        results[scale] = with_scale
    broken = report(scales, results, rates, began)
    for problem in broken:
        print(f"BUDGET BROKEN: {problem}")
    print("all budgets kept" if not broken else f"{len(broken)} budget(s) broken")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
