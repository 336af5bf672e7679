"""Scale benchmarks: the same operations at a small and a 10x larger synthetic study.

    .venv/bin/python benchmarks/run.py [--small 30] [--factor 10] [--database-url URL]

For each operation it prints the median time and the number of SQL queries at both scales, and
the time ratio. Query counts must not grow with the study (no N+1); a time ratio well under the
scale factor means the work per participant does not grow either. Speed is judged from these
ratios, never from timed tests. Not part of the test suite.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")
    os.environ.setdefault("EMAIL_BACKEND", "locmem")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush", "--noinput", verbosity=0) if _has_tables() else None
    call_command("migrate", verbosity=0)


def _has_tables() -> bool:
    from django.db import connection

    return "participants_participant" in connection.introspection.table_names()


def measure(operation, repeats: int = 5) -> tuple[float, int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    # With DEBUG on, building the study filled the query log; a full log would count 0 queries.
    reset_queries()
    times = []
    with CaptureQueriesContext(connection) as queries:
        operation()
    count = len(queries)
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def operations(today: dt.date) -> dict:
    """name -> zero-argument callable. Each runs what a user or a periodic job would run."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from schedule.models import Assessment, AssessmentStatus, Visit, VisitStatus

    superuser = get_user_model().objects.filter(username="bench-admin").first()
    if superuser is None:
        superuser = get_user_model().objects.create_superuser("bench-admin", "", "x")
    client = Client()
    client.force_login(superuser)

    def admin_participant_list():
        assert client.get("/admin/participants/participant/").status_code == 200

    def overdue_safety_scan():
        # The overdue scan's query, served by the partial index assess_overdue_scan_idx.
        list(
            Assessment.objects.filter(
                status=AssessmentStatus.PENDING,
                is_safety=True,
                overdue_flagged_at__isnull=True,
                due_at__lt=timezone.now(),
            ).values_list("pk", flat=True)[:500]
        )

    def windows_closing_scan():
        # Served by visit_open_window_end_idx.
        list(
            Visit.objects.filter(
                status=VisitStatus.SCHEDULED,
                window_end__range=(today, today + dt.timedelta(days=3)),
            ).values_list("pk", flat=True)
        )

    ops = {
        "admin participant list": admin_participant_list,
        "overdue safety scan (query)": overdue_safety_scan,
        "windows closing in 3 days (query)": windows_closing_scan,
    }
    ops.update(_optional_operations(client))
    return ops


def _optional_operations(client) -> dict:
    """Dashboard pages and the notification jobs, when those apps are installed."""
    from django.apps import apps
    from django.urls import NoReverseMatch, reverse

    from participants.models import Participant

    ops = {}
    first = Participant.objects.order_by("pk").first()
    pages = [
        ("dashboard:worklist", (), "worklist page"),
        ("dashboard:participants", (), "participants page"),
        ("dashboard:participant", (first.pk,), "participant page (one)"),
        ("dashboard:calendar", (), "calendar page"),
    ]
    for name, args, label in pages:
        try:
            url = reverse(name, args=args)
        except NoReverseMatch:
            continue

        def page(url=url):
            assert client.get(url).status_code == 200

        ops[label] = page
    if apps.is_installed("notifications"):
        from notifications import services as notify

        # Steady state: after the first run the scans find their rows already made.
        ops["reminder scan (job)"] = lambda: notify.reminders_scan()
        ops["overdue safety scan (job)"] = lambda: notify.overdue_scan()
    return ops


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=30, help="participants in the small study")
    parser.add_argument(
        "--factor", type=int, default=10, help="how many times larger the large one is"
    )
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="sle001-bench-")
    setup_django(args.database_url or f"sqlite:///{tmp}/bench.sqlite3")

    from django.utils import timezone

    from benchmarks import synthetic

    today = timezone.now().date()
    results = {}
    built = 0
    for scale in (args.small, args.small * args.factor):
        start = time.perf_counter()
        synthetic.build(scale - built, today, seed=scale)
        built = scale
        print(f"built {scale} participants in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        for name, operation in operations(today).items():
            results.setdefault(name, []).append(measure(operation))

    print(f"{'operation':38} {'small ms':>9} {'large ms':>9} {'ratio':>6} {'queries':>9}")
    failed = False
    for name, ((t_small, q_small), (t_large, q_large)) in results.items():
        ratio = t_large / t_small if t_small else float("inf")
        flag = "" if q_small == q_large else "  <-- query count grows with the study"
        failed |= bool(flag)
        print(
            f"{name:38} {t_small * 1000:9.1f} {t_large * 1000:9.1f} {ratio:6.2f} {q_small:>4}/{q_large:<4}{flag}"
        )
    print(
        f"(scale factor {args.factor}; a ratio near or above it means work grows per participant)"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
