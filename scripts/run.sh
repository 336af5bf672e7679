#!/usr/bin/env bash
# README command 1 — quick start on a fresh machine (only python3.11+ assumed).
# Embedded defaults: SQLite file, Celery on the filesystem broker, e-mails written to var/mail/.
#   bash scripts/run.sh            # PORT=8001 / DEMO_PASSWORD=... to override
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # paths below are relative to the repo root

PORT="${PORT:-8000}"
DEMO_PASSWORD="${DEMO_PASSWORD:-sle001-demo}"
PYTHON="${PYTHON:-python3}"

# --- virtualenv; reinstall only when the requirements file changed (hash stamp inside .venv,
#     so deleting .venv also forgets the stamp)
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "Python 3.11+ is required ($PYTHON is $("$PYTHON" -V 2>&1))" >&2; exit 1; }
    "$PYTHON" -m venv .venv \
        || { echo "venv creation failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
fi
stamp=.venv/.requirements.sha256
want="$(sha256sum requirements.txt)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing requirements.txt ..."
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
    echo "$want" >"$stamp"
fi
PY=.venv/bin/python

# --- database, demo users, static files (all idempotent, safe to re-run)
mkdir -p var/log
"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo --password "$DEMO_PASSWORD"
"$PY" manage.py collectstatic --noinput -v 0

# --- Celery worker with embedded beat (-B): reminders and overdue scans run while the dev server
#     runs. Beat's schedule file goes to var/ so it does not litter the repo root.
.venv/bin/celery -A sle001 worker -B --loglevel=info -s var/celerybeat-schedule \
    >>var/log/celery.log 2>&1 &
CELERY_PID=$!
# Background jobs of a non-interactive shell ignore Ctrl-C, so stop the worker explicitly
# (SIGTERM = warm shutdown) whenever this script ends.
cleanup() {
    kill -TERM "$CELERY_PID" 2>/dev/null || return 0
    # Warm shutdown lets running tasks finish; the embedded beat sometimes never returns from
    # it on the filesystem broker, so give it 10 s and then stop it for good.
    for _ in $(seq 20); do kill -0 "$CELERY_PID" 2>/dev/null || return 0; sleep 0.5; done
    echo "Celery worker did not stop in 10 s; killing it." >&2
    pkill -KILL -P "$CELERY_PID" 2>/dev/null || true
    kill -KILL "$CELERY_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sleep 2
if ! kill -0 "$CELERY_PID" 2>/dev/null; then
    echo "WARNING: the Celery worker exited at start-up; last lines of var/log/celery.log:" >&2
    tail -n 20 var/log/celery.log >&2 || true
fi

cat <<BANNER

================================================================
 SLE-001 participant tracker
   App:    http://127.0.0.1:${PORT}/
   Admin:  http://127.0.0.1:${PORT}/admin/
   Logins (password: ${DEMO_PASSWORD}):
     coordinator-s01, coordinator-s02, coordinator-s03 (one site each)
     investigator-s01, investigator-s02, investigator-s03
     manager (study manager, all sites), admin (superuser)
   Celery worker+beat log: var/log/celery.log
   E-mails (file backend): var/mail/
   Stop with Ctrl-C.
================================================================

BANNER

# Not exec: the EXIT trap must still run to stop the worker.
"$PY" manage.py runserver "127.0.0.1:${PORT}"
