"""The quick start stays true (issue 13, item 5): scripts/run.sh serves the demo on PORT with the
email links on that port, prints the logins once, and Ctrl-C stops everything it started (the
server with its autoreloader child, the Celery worker with its pool and beat) in under 5 s.

run.sh runs for real here, in its own session, with VAR_DIR in a temporary folder (its own SQLite
database, broker folders and mail) and the existing .venv (SLE001_SKIP_INSTALL=1)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT = 300  # seconds: migrate and seed a fresh database on a busy machine
STOP_LIMIT = 5.0  # seconds, what the README promises for Ctrl-C
# The quick start's own defaults, not whatever the test run was configured with.
NOT_PASSED = ("DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_BACKEND", "SITE_URL", "VAR_DIR")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quick_start_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    return {**env, **extra}


def in_session(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process in session `sid` (zombies are already gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # exited meanwhile
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == sid and state != "Z":
            found.append((int(entry.name), cmd))
    return found


def kill_session(sid: int) -> None:
    for pid, _cmd in in_session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_until_served(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run.sh exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"not served within {STARTUP_LIMIT} s:\n{log.read_text()[-3000:]}")


def test_site_url_follows_port_unless_set():
    def site_url(**env):
        out = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from django.conf import settings as s; print(s.SITE_URL)",
            ],
            cwd=ROOT,
            env=quick_start_env(**env),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]  # after the shell's import notes

    assert site_url(PORT="8123") == "http://127.0.0.1:8123"
    assert site_url(PORT="8123", SITE_URL="https://tracker.example.org/") == (
        "https://tracker.example.org"
    )


def test_ctrl_c_stops_the_server_worker_and_beat_in_under_5_seconds(tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    env = quick_start_env(
        PORT=str(port), VAR_DIR=str(tmp_path / "var"), SLE001_SKIP_INSTALL="1", DEMO_PASSWORD="pw"
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own session: every descendant is found by its id
            # As in a terminal: Ctrl-C is not ignored (a test runner may ignore it).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    sid = proc.pid
    try:
        wait_until_served(f"http://127.0.0.1:{port}/accounts/login/", proc, log)
        deadline = time.monotonic() + 60
        while not any("celery" in cmd for _pid, cmd in in_session(sid)):
            if time.monotonic() > deadline:  # a bound on the wait, not a speed check
                pytest.fail("the Celery worker never started")
            time.sleep(0.5)
        running = in_session(sid)
        commands = " ".join(cmd for _pid, cmd in running)
        assert "runserver" in commands and "worker -B" in commands, commands
        text = log.read_text()
        assert text.count("coordinator-s01") == 1, "the logins are printed once"
        assert f"links to http://127.0.0.1:{port}" in text

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        while in_session(sid) and time.monotonic() - started < STOP_LIMIT:
            time.sleep(0.05)
        # What matters is what is left once the promised 5 s have passed.
        left = in_session(sid)
        assert left == [], f"still running {STOP_LIMIT} s after Ctrl-C: {left}"
        assert proc.wait(timeout=1) == 130
    finally:
        kill_session(sid)
