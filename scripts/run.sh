#!/usr/bin/env bash
# README command 1 — quick start on a fresh machine (only python3.11+ assumed).
# Embedded defaults: SQLite file, Celery on the filesystem broker, e-mails written to var/mail/.
#   bash scripts/run.sh            # PORT=8001 / DEMO_PASSWORD=... / VAR_DIR=... to override
# Ctrl-C stops everything it started (server, Celery worker and beat) within a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # paths below are relative to the repo root

export PORT="${PORT:-8000}"
# Links in emails and feeds point at the server this script starts (settings default to it too).
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"
VAR_DIR="${VAR_DIR:-var}"
mkdir -p "$VAR_DIR/log"
export VAR_DIR="$(cd "$VAR_DIR" && pwd)"
DEMO_PASSWORD="${DEMO_PASSWORD:-sle001-demo}"
PYTHON="${PYTHON:-python3}"

# --- virtualenv; reinstall only when the requirements file changed (hash stamp inside .venv,
#     so deleting .venv also forgets the stamp). SLE001_SKIP_INSTALL=1 uses .venv as it is (tests).
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "Python 3.11+ is required ($PYTHON is $("$PYTHON" -V 2>&1))" >&2; exit 1; }
    "$PYTHON" -m venv .venv \
        || { echo "venv creation failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
fi
stamp=.venv/.requirements.sha256
want="$(sha256sum requirements.txt)"
if [ "${SLE001_SKIP_INSTALL:-}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing requirements.txt ..."
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
    echo "$want" >"$stamp"
fi
PY=.venv/bin/python

# --- database, demo study, static files (all idempotent, safe to re-run). seed_demo rebuilds the
#     demo participants around today when they were made on an earlier day, and prints the logins.
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo --password "$DEMO_PASSWORD"
"$PY" manage.py collectstatic --noinput -v 0

# --- Celery worker with embedded beat (-B) and the dev server, each in a process group of its own
#     (job control on), so stopping a group stops its children too: the worker's pool and beat,
#     the server's autoreloader child.
set -m
SERVER_PID=""
.venv/bin/celery -A sle001 worker -B --loglevel=info -s "$VAR_DIR/celerybeat-schedule" \
    >>"$VAR_DIR/log/celery.log" 2>&1 </dev/null &
CELERY_PID=$!

stop_group() {  # TERM a process group, then KILL what is left after $2 tenths of a second
    local pid=$1 tenths=$2
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for _ in $(seq "$tenths"); do kill -0 -- "-$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "Stopping the server and the Celery worker ..."
    # Both at once, so the whole stop stays well under 5 s: a warm Celery shutdown can hang on
    # the filesystem broker, so it gets 2 s before it is killed (its tasks are safe to repeat:
    # an outbox row's claim times out and the row is sent by the next run).
    stop_group "$SERVER_PID" 20 &
    stop_group "$CELERY_PID" 20 &
    wait
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" manage.py runserver "127.0.0.1:${PORT}" </dev/null &
SERVER_PID=$!

sleep 2
if ! kill -0 "$CELERY_PID" 2>/dev/null; then
    echo "WARNING: the Celery worker exited at start-up; last lines of $VAR_DIR/log/celery.log:" >&2
    tail -n 20 "$VAR_DIR/log/celery.log" >&2 || true
fi

cat <<BANNER

================================================================
 SLE-001 participant tracker
   App:    http://127.0.0.1:${PORT}/
   Admin:  http://127.0.0.1:${PORT}/admin/
   Log in with one of the logins listed above (password: ${DEMO_PASSWORD}).
   Celery worker+beat log: ${VAR_DIR}/log/celery.log
   E-mails (file backend): ${VAR_DIR}/mail/ (links to ${SITE_URL})
   Stop with Ctrl-C.
================================================================

BANNER

# `wait` (unlike a command in the foreground) returns as soon as Ctrl-C arrives, so the traps run
# at once. When the server exits by itself, the EXIT trap stops the worker.
wait "$SERVER_PID"
