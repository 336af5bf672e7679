#!/usr/bin/env bash
# README command 2 — lint, migration/system checks and the test suite.
#   bash scripts/test.sh [pytest args]
#   DATABASE_URL=postgres://... bash scripts/test.sh   # default: SQLite
#   REQUIRE_SERVICES=1 bash scripts/test.sh            # service-dependent tests fail instead of skip
#   PYTEST_WORKERS=0 bash scripts/test.sh tests/x.py   # no parallel workers
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # paths below are relative to the repo root

PYTHON="${PYTHON:-python3}"
step() { printf '\n== %s\n' "$*"; }

# --- virtualenv with dev tools; reinstall only when either requirements file changed
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "Python 3.11+ is required ($PYTHON is $("$PYTHON" -V 2>&1))" >&2; exit 1; }
    "$PYTHON" -m venv .venv \
        || { echo "venv creation failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
fi
stamp=.venv/.requirements-dev.sha256
want="$(sha256sum requirements.txt requirements-dev.txt)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    step "Installing requirements-dev.txt"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
    echo "$want" >"$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

# --- Chromium for the Playwright tests. Debian's package, never `playwright install`
#     (it downloads browsers, which fails here). CHROMIUM_PATH may point elsewhere.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x "${CHROMIUM_PATH:-/nonexistent}" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        step "Installing Debian chromium"
        # Lock timeout: another apt-get may be running (e.g. an image being provisioned).
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium
    else
        echo "NOTE: chromium not found. Install it with: sudo apt-get install -y chromium" >&2
        echo "      (or set CHROMIUM_PATH). Browser tests will skip, or fail with REQUIRE_SERVICES=1." >&2
    fi
fi

# --- axe-core for the accessibility checks of the browser tests: the npm package pinned by
#     tests/browser/package-lock.json, installed with `npm ci` (again only when the lock changed).
axe_lock=tests/browser/package-lock.json
axe_stamp=tests/browser/node_modules/.lock.sha256
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    step "Installing Debian npm (for axe-core)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq npm
fi
if command -v npm >/dev/null 2>&1; then
    if [ "$(cat "$axe_stamp" 2>/dev/null)" != "$(sha256sum "$axe_lock")" ]; then
        step "npm ci --prefix tests/browser (axe-core)"
        npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
        sha256sum "$axe_lock" >"$axe_stamp"
    fi
else
    echo "NOTE: npm not found: the axe-core checks will skip, or fail with REQUIRE_SERVICES=1." >&2
fi

# Show the target database without its password.
step "Database: $(printf '%s' "${DATABASE_URL:-SQLite (default)}" | sed -E 's#(//[^:/@]*):[^@]*@#\1:***@#')"

step "ruff check"
ruff check .
step "ruff format --check"
ruff format --check .
step "makemigrations --check (no model change without a migration)"
python manage.py makemigrations --check --dry-run
step "manage.py check"
python manage.py check

# One test process per core (pytest-xdist): each has its own test database (pytest-django adds a
# _gwN suffix on PostgreSQL; SQLite files live in per-worker temp folders) and each Redis test
# uses a queue of its own. PYTEST_WORKERS=0 runs in this process (e.g. to use a debugger).
workers="${PYTEST_WORKERS:-auto}"
step "pytest -n $workers $*"
rc=0
pytest -n "$workers" --durations=15 "$@" || rc=$?
# Exit code 5 = no tests collected: a wrong path or a broken collection must not pass silently.
[ "$rc" -eq 5 ] && echo "pytest collected no tests — treated as a failure" >&2
exit "$rc"
