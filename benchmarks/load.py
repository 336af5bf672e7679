"""Load without errors: N coordinators, each logged in with a session of their own, browse (worklist,
participants, a participant page, calendar) and record (a visit of their worklist as done) for a
bounded time against a running stack; prints requests/s, p50/p95/p99 and the errors, and exits
non-zero on any error. One thread per user, standard library only (scripts/prod_smoke_http.py).

    python benchmarks/load.py --base http://127.0.0.1:8000 --users 50 --time 60s \\
        --password-file var/load-users.csv --create

--create adds the coordinators first with manage.py add_staff (in this process, so it needs the
stack's environment: DATABASE_URL, ...), spread over the sites given (--site, default the demo's
S01-S03), and writes username,password lines to --password-file; without it the file is read.
An error is a 5xx, a connection error or time-out, or a page that does not answer 200; a record
refused (the form shown again, or the visit recorded by a colleague a moment before: 404) is not.
"""

import argparse
import csv
import io
import random
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prod_smoke_http import Client, form_fields, links  # noqa: E402


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration such as 60s, 2m or 90")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def create_users(count: int, sites: list[str], path: Path) -> list[tuple[str, str]]:
    """Coordinators load-01... at the sites in turn, made with manage.py add_staff."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")
    django.setup()
    from django.core.management import call_command

    users = []
    for n in range(1, count + 1):
        username, out = f"load-{n:02d}", io.StringIO()
        site = sites[(n - 1) % len(sites)]
        call_command(
            "add_staff", username, email=f"{username}@example.org", role="coordinator",
            sites=[site], stdout=out,
        )  # fmt: skip
        found = re.search(r"One-time password \(shown only now\): (\S+)", out.getvalue())
        if not found:
            raise SystemExit(f"add_staff printed no password for {username} (exists already?)")
        users.append((username, found[1]))
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(users)
    return users


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies, self.errors, self.outcomes = [], Counter(), Counter()
        self.by_kind: dict[str, list[float]] = {}

    def timed(self, what: str, call, ok=(200,)):
        started = time.perf_counter()
        try:
            response = call()
        except Exception as exc:  # time-outs and connection errors are errors
            response, status = None, type(exc).__name__
        else:
            status = response.status
        with self.lock:
            self.latencies.append(time.perf_counter() - started)
            self.by_kind.setdefault(what, []).append(self.latencies[-1])
            if status not in ok:
                self.errors[f"{what}: {status}"] += 1
        return response if status in ok else None


def user(client: Client, credentials, stats: Stats, until: float, think: float, seed: int):
    """One coordinator's session; a crash of the script itself is counted as an error too."""
    try:
        browse(client, credentials, stats, until, think, seed)
    except Exception as exc:
        with stats.lock:
            stats.errors[f"load script crashed: {type(exc).__name__}: {exc}"] += 1


def browse(client: Client, credentials, stats: Stats, until: float, think: float, seed: int):
    rnd = random.Random(seed)
    username, password = credentials
    if stats.timed("log in", lambda: client.log_in(username, password), ok=(302,)) is None:
        return
    n = 0
    while time.monotonic() < until:
        n += 1
        worklist = stats.timed("worklist", lambda: client.get("/"))
        listing = stats.timed("participants", lambda: client.get("/participants/"))
        found = links(listing.text, r"^/participants/\d+/$") if listing else []
        if found:
            page = rnd.choice(found)
            stats.timed("participant page", lambda page=page: client.get(page))
        if n % 3 == 0:
            stats.timed("calendar", lambda: client.get("/calendar/"))
        if n % 2 == 0 and worklist:
            record(client, worklist.text, stats, rnd)
        time.sleep(rnd.uniform(0, 2 * think))


def record(client: Client, worklist: str, stats: Stats, rnd: random.Random) -> None:
    candidates = links(worklist, r"/visits/\d+/done/")
    if not candidates:
        return
    url = rnd.choice(candidates)
    page = stats.timed("record form", lambda: client.get(url), ok=(200, 404))
    if page is None or page.status == 404 or "started_time" in page.text:
        stats.outcomes["record skipped"] += 1
        return
    try:
        form = form_fields(page.text, has="actual_date")
    except LookupError:  # recorded by a colleague since the worklist was read: nothing to record
        stats.outcomes["record skipped"] += 1
        return
    done = stats.timed("record", lambda: client.post(url.split("?")[0], form), ok=(200, 302, 404))
    if done is not None:
        stats.outcomes["recorded" if done.status == 302 else "record refused"] += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--base", required=True, help="the stack's URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--time", type=duration, default=60.0, help="e.g. 60s, 2m")
    parser.add_argument("--password-file", type=Path, required=True)
    parser.add_argument("--create", action="store_true", help="add the users first (add_staff)")
    parser.add_argument("--site", action="append", default=[], help="sites for --create")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds between pages")
    args = parser.parse_args()

    if args.create:
        users = create_users(args.users, args.site or ["S01", "S02", "S03"], args.password_file)
    else:
        with args.password_file.open() as f:
            users = [tuple(row) for row in csv.reader(f)][: args.users]
    if len(users) < args.users:
        raise SystemExit(f"{args.password_file} has {len(users)} users, not {args.users}")

    stats = Stats()
    started = time.monotonic()
    until = started + args.time
    threads = [
        threading.Thread(
            target=user,
            args=(Client(args.base, timeout=60), credentials, stats, until, args.think, n),
            daemon=True,
        )
        for n, credentials in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.time + 120)
    elapsed = time.monotonic() - started
    total, errors = len(stats.latencies), sum(stats.errors.values())
    print(f"load: {args.users} users for {args.time:.0f} s against {args.base}")
    print(f"  requests {total}, {total / elapsed:.1f}/s; errors {errors}")
    if total:
        ms = [x * 1000 for x in stats.latencies]
        print(f"  latency ms: p50 {percentile(ms, 50):.0f}  p95 {percentile(ms, 95):.0f}  "
              f"p99 {percentile(ms, 99):.0f}  max {max(ms):.0f}")  # fmt: skip
    for what, seconds in sorted(stats.by_kind.items()):
        ms = [x * 1000 for x in seconds]
        print(
            f"    {what:<17} n={len(ms):<5} p50 {percentile(ms, 50):>6.0f}  p95 {percentile(ms, 95):>6.0f}"
        )
    print(f"  records: {dict(stats.outcomes) or 'none'}")
    for what, n in stats.errors.most_common():
        print(f"  ERROR {what} x{n}", file=sys.stderr)
    if errors or any(t.is_alive() for t in threads) or not total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
