"""How long the quick start's demo seeding takes, with real password hashing (the first thing a
new user waits for). Not part of the test suite: a timed test fails on a loaded machine.

    .venv/bin/python benchmarks/seed_demo.py [--runs 3] [--budget 20]

Each run migrates a fresh temporary SQLite database and runs `manage.py seed_demo` in its own
process, as scripts/run.sh does. Prints every run and the median; exits non-zero when the median
is over the budget (seconds).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3", "VAR_DIR": tmp}
        env.pop("PYTEST_XDIST_WORKER", None)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        started = time.monotonic()
        subprocess.run(
            [*manage, "seed_demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds (median)")
    args = parser.parse_args()
    times = []
    for n in range(1, args.runs + 1):
        times.append(one_run())
        print(f"run {n}: seed_demo took {times[-1]:.1f} s")
    median = statistics.median(times)
    verdict = "within" if median <= args.budget else "OVER"
    print(f"median {median:.1f} s, {verdict} the budget of {args.budget:.0f} s")
    return 0 if median <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
