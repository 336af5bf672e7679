"""The production smoke's steps, run by scripts/prod-smoke.sh against the stack it started (same
environment: DATABASE_URL, CELERY_BROKER_URL, ...). The user's part goes over HTTP only; the
checks read the outbox table and the SMTP sink's file.

    prod_smoke.py record  --base URL --username U --password P   log in, record a visit
    prod_smoke.py first   --mail FILE                              a reminder and an overdue alert arrive
    prod_smoke.py healthz --base URL --token T --expect 200|503    /healthz answers so (each GET bounded)
    prod_smoke.py check   --mail FILE [--killed-at T]              every due email arrives exactly once
                                                                   (the one a SIGKILL at T caught in
                                                                   its window: at most twice)
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prod_smoke_http import Client, form_fields, links  # noqa: E402

# How long one /healthz GET may take: it answers within 2 s whatever the broker does.
HEALTHZ_LIMIT_SECONDS = 2.5


def say(text: str) -> None:
    print(f"[smoke {time.strftime('%H:%M:%S')}] {text}", flush=True)


def received(mail: str) -> list[dict]:
    path = Path(mail)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def resent_after_the_kill(
    mails: list[dict], sent_at: dict[str, float], killed_at, in_flight: int = 2
) -> set[str]:
    """The Message-IDs the documented gap (README, "Emails and background jobs") explains: the
    SMTP server accepted the first copy before the worker was SIGKILLed, the killed worker never
    marked the row sent (it was marked after the kill), and the second copy came after the kill.
    Only the last `in_flight` emails accepted before the kill qualify (the worker's concurrency:
    each process marks a row sent before it claims the next), so a wider gap, e.g. a batch
    whose marks roll back together, still fails. `mails`: the sink's lines; `sent_at`:
    Message-ID -> when its row was marked sent (epoch s); `killed_at`: when the worker was
    killed (epoch s), or None."""
    if killed_at is None:
        return set()
    before = sorted(
        (m["accepted_at"], m["message_id"]) for m in mails if m["accepted_at"] < killed_at
    )
    last = {mid for _, mid in before[-in_flight:]} if in_flight > 0 else set()
    accepted: dict[str, list[float]] = {}
    for mail in mails:
        accepted.setdefault(mail["message_id"], []).append(mail["accepted_at"])
    return {
        mid
        for mid, times in accepted.items()
        if mid in last
        and len(times) == 2
        and times[0] < killed_at < times[1]
        and sent_at.get(mid, 0) > killed_at
    }


def exactly_once_problems(
    sent: dict[str, str], arrived: list[str], unsent: dict[str, str], resent=frozenset()
) -> list:
    """What is wrong with the delivery: `sent` maps each Message-ID whose outbox row is marked sent
    to a description, `arrived` lists the Message-IDs the SMTP server received (in order),
    `unsent` the due rows still not sent; `resent`: the emails the SIGKILL caught in their
    window (resent_after_the_kill), which may arrive twice. Empty when every other email arrived
    exactly once."""
    counts = Counter(arrived)
    problems = [
        f"{mid} arrived {n} times (doubled)"
        for mid, n in counts.items()
        if n > 1 and not (n == 2 and mid in resent)
    ]
    problems += [
        f"{mid} ({what}) marked sent, never arrived (lost)"
        for mid, what in sent.items()
        if mid not in counts
    ]
    problems += [f"{mid} arrived, its row is not marked sent" for mid in counts if mid not in sent]
    problems += [f"{what} never sent (lost)" for what in unsent.values()]
    return problems


# --- over HTTP ---------------------------------------------------------------------------------


def record(args) -> None:
    """Log in as a coordinator and record a visit of the worklist as done, over HTTP."""
    client = Client(args.base)
    client.log_in(args.username, args.password)
    worklist = client.get("/")
    if worklist.status != 200:
        raise SystemExit(f"worklist answered {worklist.status}")
    candidates = links(worklist.text, r"/visits/\d+/done/")
    for url in candidates:
        page = client.get(url)
        if page.status != 200 or "started_time" in page.text:  # infusions need a dose and a lot
            continue
        form = form_fields(page.text, has="actual_date")
        if args.tz:
            form["actual_date"] = dt.datetime.now(ZoneInfo(args.tz)).date().isoformat()
        path = url.split("?")[0]
        done = client.post(path, form)
        if done.status == 302:
            say(f"{args.username} recorded {path} as done (302 to {done.location})")
            if client.get(done.location.replace(f"https://{client.host}", "")).status != 200:
                raise SystemExit("the page after recording did not answer 200")
            return
        if done.status >= 500:
            raise SystemExit(f"recording {path} answered {done.status}")
    raise SystemExit(f"no visit on the worklist could be recorded ({len(candidates)} tried)")


def healthz(args) -> None:
    """Poll /healthz until it answers --expect. With --strict every GET must answer within
    HEALTHZ_LIMIT_SECONDS (a cold start may take longer, a hung broker must not)."""
    client = Client(args.base, timeout=HEALTHZ_LIMIT_SECONDS)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    deadline = time.monotonic() + args.within
    last = None
    while time.monotonic() < deadline:
        try:
            response = client.get("/healthz", headers=headers)
        except OSError as exc:  # a time-out (/healthz hung), or not listening yet
            if args.strict:
                limit = HEALTHZ_LIMIT_SECONDS
                raise SystemExit(f"/healthz did not answer within {limit} s: {exc}") from None
            last = (None, str(exc))
            time.sleep(1)
            continue
        last = (response.status, response.text)
        if args.expect in (0, response.status):
            say(f"/healthz answered {response.status}: {_failing(response.text)}")
            return
        time.sleep(1)
    raise SystemExit(f"/healthz never answered {args.expect} in {args.within} s; last: {last}")


def _failing(body: str) -> str:
    """The checks that failed, from /healthz's details."""
    try:
        checks = json.loads(body)
    except ValueError:
        return body[:200]
    details = {name: c for name, c in checks.items() if isinstance(c, dict)}
    if not details:
        return body  # no token: the status only
    bad = [name for name, check in details.items() if not check["ok"]]
    return f"failing: {', '.join(bad)}" if bad else "every check ok"


# --- the checks (the outbox table and the sink's file) -----------------------------------------


def _django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")
    django.setup()


def first(args) -> None:
    """Wait until a reminder and an overdue safety alert have arrived at the SMTP sink.

    Every --kick seconds it asks for every periodic job, as beat's next ticks would: a scan the
    SIGKILLed worker was running is run again (the jobs are idempotent) without waiting for
    beat's own interval (an hour for the reminders)."""
    _django()
    from django.conf import settings

    from notifications.models import REMINDER_KINDS, OutboxEmail, OutboxKind, OutboxStatus
    from notifications.services.emails import message_id
    from sle001.celery import app

    wanted = {"reminder": REMINDER_KINDS, "overdue safety alert": (OutboxKind.SAFETY_OVERDUE,)}
    deadline = time.monotonic() + args.within
    kicked = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - kicked > args.kick:
            for job in settings.CELERY_BEAT_SCHEDULE.values():
                app.send_task(job["task"])
            kicked = time.monotonic()
        arrived = {m["message_id"] for m in received(args.mail)}
        found = {}
        for what, kinds in wanted.items():
            rows = OutboxEmail.objects.filter(kind__in=kinds, status=OutboxStatus.SENT)
            found[what] = [r for r in rows if message_id(r.pk) in arrived]
        if all(found.values()):
            for what, rows in found.items():
                say(f"{len(rows)} {what}(s) arrived, e.g. {rows[0].subject!r}")
            return
        time.sleep(1)
    raise SystemExit(f"no {[w for w, r in found.items() if not r]} at the SMTP sink in time")


def check(args) -> None:
    """Wait (kicking deliver_outbox as beat would) until no due row is left unsent, then check that
    every email arrived exactly once by Message-ID, and report the resend window."""
    _django()
    from django.utils import timezone

    from notifications.models import OutboxEmail, OutboxStatus
    from notifications.services.emails import message_id
    from sle001.celery import app

    deadline = time.monotonic() + args.within
    while True:
        unsent = OutboxEmail.objects.filter(
            status=OutboxStatus.PENDING, send_after__lte=timezone.now()
        )
        if not unsent.exists() or time.monotonic() > deadline:
            break
        say(
            f"{unsent.count()} due email(s) not sent yet (claimed: "
            f"{unsent.exclude(claimed_at=None).count()}); asking for a delivery run"
        )
        app.send_task("notifications.tasks.deliver_outbox")
        time.sleep(args.kick)
    time.sleep(2)  # a message accepted just now reaches the file
    rows = list(OutboxEmail.objects.exclude(status=OutboxStatus.CANCELLED))
    sent = {
        message_id(r.pk): f"{r.kind} to {r.to_email}" for r in rows if r.status == OutboxStatus.SENT
    }
    late = {
        message_id(r.pk): f"{r.kind} to {r.to_email} ({r.status}, {r.last_error[:80]})"
        for r in rows
        if r.status != OutboxStatus.SENT and r.send_after <= timezone.now()
    }
    mails = received(args.mail)
    sent_at = {message_id(r.pk): r.sent_at.timestamp() for r in rows if r.sent_at}
    resent = resent_after_the_kill(mails, sent_at, args.killed_at, args.in_flight)
    for mid in sorted(resent):
        say(f"{mid} arrived twice: the SIGKILL came after the server accepted it and before its")
        say(
            "  row was marked sent (the documented at-least-once gap); the next worker sent it again"
        )
    problems = exactly_once_problems(sent, [m["message_id"] for m in mails], late, resent)
    say(
        f"{len(sent)} email(s) marked sent, {len(mails)} received by the SMTP sink, "
        f"{len(set(m['message_id'] for m in mails))} distinct Message-IDs"
    )
    _report_window(rows, mails)
    if problems:
        for problem in problems:
            print(f"  PROBLEM: {problem}", file=sys.stderr)
        raise SystemExit(f"{len(problems)} email(s) not delivered exactly once")
    say("every email arrived exactly once")


def _report_window(rows, mails) -> None:
    """The resend window: from the server's reply to DATA (the sink's accepted_at) to the row
    being marked sent (sent_at, just before the UPDATE commits)."""
    from notifications.services.emails import message_id

    accepted = {m["message_id"]: m["accepted_at"] for m in mails}
    gaps = sorted(
        (r.sent_at.timestamp() - accepted[message_id(r.pk)]) * 1000
        for r in rows
        if r.sent_at and message_id(r.pk) in accepted
    )
    if gaps:
        say(
            f"resend window (DATA accepted -> row marked sent) over {len(gaps)} emails: "
            f"median {gaps[len(gaps) // 2]:.1f} ms, max {gaps[-1]:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    steps = parser.add_subparsers(dest="step", required=True)
    p = steps.add_parser("record")
    p.add_argument("--base", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--tz", default="", help="the site's zone: record the visit on its today")
    p.set_defaults(run=record)
    p = steps.add_parser("first")
    p.add_argument("--mail", required=True)
    p.add_argument("--within", type=float, default=90)
    p.add_argument("--kick", type=float, default=10, help="seconds between the jobs asked for")
    p.set_defaults(run=first)
    p = steps.add_parser("healthz")
    p.add_argument("--base", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--expect", type=int, required=True, help="a status; 0: any answer")
    p.add_argument("--within", type=float, default=60)
    p.add_argument("--strict", action="store_true", help="a GET over the bound fails")
    p.set_defaults(run=healthz)
    p = steps.add_parser("check")
    p.add_argument("--mail", required=True)
    p.add_argument("--within", type=float, default=120)
    p.add_argument("--kick", type=float, default=5, help="seconds between delivery runs asked for")
    p.add_argument(
        "--killed-at", type=float, default=None, help="when the worker was SIGKILLed (epoch s)"
    )
    p.add_argument(
        "--in-flight", type=int, default=2, help="the killed worker's concurrency (emails at once)"
    )
    p.set_defaults(run=check)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
