#!/usr/bin/env bash
# The production stack, run for real without Docker: what docker-compose.yml starts (PostgreSQL,
# Redis, gunicorn with DEBUG=false, a Celery worker, Celery beat, an SMTP server standing in for
# Mailpit), then over HTTP: log in as a coordinator, record a visit, wait for a reminder and an
# overdue safety alert at the SMTP sink, SIGKILL the worker and start it again, stop Redis and
# start it again, and check that every due email arrived exactly once (by Message-ID) and that
# /healthz went 503 while Redis was down and recovered. Then a short load run (benchmarks/load.py).
# Everything it started is stopped by pid when it ends (trap EXIT), its database dropped.
#
#   bash scripts/prod-smoke.sh                    # CI runs this (.ci/run), ~3 minutes
#   SMOKE_LOAD=full bash scripts/prod-smoke.sh    # the load run at 50 users for 60 s
#   SMOKE_LOAD=0 ...                              # no load run
#   SMOKE_LOAD_ARGS="--think 5" ...               # more options for benchmarks/load.py
#   SMOKE_BREAK=duplicate|lose ...                # the SMTP sink records one email twice / drops
#                                                 # it: the smoke must FAIL (proves the check)
#   SMOKE_KEEP=1 ...                              # keep the work folder (logs, mail) afterwards
# Needs: PostgreSQL at $SMOKE_PG (default postgres://postgres@127.0.0.1:5432, a user that may
# create databases), redis-server on the PATH, .venv with requirements-dev.txt (aiosmtpd).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

PY="$PWD/.venv/bin/python"
BIN="$PWD/.venv/bin"
SMOKE_PG="${SMOKE_PG:-postgres://postgres@127.0.0.1:5432}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sle001-smoke.XXXXXX")"
DB="sle001_smoke_$$"
MAIL="$WORK/mail.jsonl"
PASSWORD="smoke-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
declare -A PID=()

log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start NAME CMD...: in a process group of its own (so a SIGKILL reaches its children too),
# output appended to $WORK/NAME.log.
start() {
    local name=$1
    shift
    setsid "$@" >>"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    log "started $name (pid ${PID[$name]})"
}
# stop NAME [SIGNAL]: signal its process group, wait up to 10 s, then SIGKILL what is left.
stop() {
    local name=$1 sig=${2:-TERM} pid=${PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -"$sig" -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
    log "stopped $name (pid $pid, SIG$sig)"
}
wait_for() {  # wait_for WHAT SECONDS CMD...
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    log "timed out waiting for $what"
    return 1
}
cleanup() {
    local status=$?
    set +e
    for name in "${!PID[@]}"; do stop "$name"; done
    dropdb --if-exists -d "$SMOKE_PG/postgres" "$DB" 2>/dev/null \
        || psql "$SMOKE_PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    if [ "$status" -ne 0 ]; then
        for f in "$WORK"/*.log; do echo "----- last lines of $f" >&2; tail -n 25 "$f" >&2; done
        log "FAILED (exit $status)" >&2
    fi
    if [ -n "${SMOKE_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REDIS_PORT="$(free_port)"
SMTP_PORT="$(free_port)"
WEB_PORT="$(free_port)"
BASE="http://127.0.0.1:$WEB_PORT"

# The stack's environment, as docker-compose.yml sets it, behind a pretend TLS-terminating proxy:
# the smoke's client sends X-Forwarded-Proto: https (scripts/prod_smoke_http.py), so the https
# redirect, HSTS and Secure cookies stay as in production.
unset CELERY_TASK_ALWAYS_EAGER DJANGO_ALLOW_ASYNC_UNSAFE
export DJANGO_SETTINGS_MODULE=sle001.settings
export DEBUG=false
SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export SITE_URL="https://127.0.0.1:$WEB_PORT"
export TRUST_X_FORWARDED_PROTO=true SECURE_SSL_REDIRECT=true
export DATABASE_URL="$SMOKE_PG/$DB"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export EMAIL_BACKEND=smtp EMAIL_HOST=127.0.0.1 EMAIL_PORT="$SMTP_PORT" EMAIL_USE_TLS=false
export VAR_DIR="$WORK/var"
export HEALTHZ_TOKEN="smoke-healthz-$$"
# Reminders go out at the hour's start whatever the time of day (the demo has visits due), and a
# killed worker's claim is taken over after 15 s instead of 10 minutes.
export REMINDER_HOUR=0 OUTBOX_CLAIM_TIMEOUT_SECONDS=15
export LOG_LEVEL=INFO

start_redis() {
    start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$WORK"
    wait_for "Redis" 20 redis-cli -p "$REDIS_PORT" ping
}
# The worker's processes: at most this many emails are in flight when it is SIGKILLed.
WORKER_CONCURRENCY=2
start_worker() {
    # A log of its own each time: the readiness line of a killed one must not count.
    [ ! -f "$WORK/worker.log" ] || mv "$WORK/worker.log" "$WORK/worker-killed-$(date +%s).log"
    start worker "$BIN/celery" -A sle001 worker --loglevel=info --concurrency="$WORKER_CONCURRENCY" -n "smoke-$$@%h"
    wait_for "the worker" 60 grep -q " ready." "$WORK/worker.log"
}

log "work folder $WORK; web $BASE, Redis :$REDIS_PORT, SMTP :$SMTP_PORT, database $DB"
start_redis
start smtp "$PY" scripts/prod_smoke_sink.py --port "$SMTP_PORT" --out "$MAIL"
wait_for "the SMTP sink" 20 grep -q "SMTP sink on" "$WORK/smtp.log"

createdb -d "$SMOKE_PG/postgres" "$DB" 2>/dev/null || psql "$SMOKE_PG/postgres" -qc "CREATE DATABASE $DB"
log "migrate"
"$PY" manage.py migrate --noinput -v 0
log "collectstatic, seed_demo"
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py seed_demo --password "$PASSWORD" | tail -n 3

start web "$BIN/gunicorn" sle001.wsgi:application --bind "127.0.0.1:$WEB_PORT" --workers 3 \
    --timeout 30 --access-logfile "$WORK/access.log"
# Beat first: it enqueues every job at start (sle001/celery.py), and they wait in Redis.
start beat "$BIN/celery" -A sle001 beat --loglevel=info --schedule "$WORK/celerybeat-schedule"

smoke() { "$PY" scripts/prod_smoke.py "$@"; }
smoke healthz --base "$BASE" --expect 0 --within 90  # gunicorn answers (503: no job ran yet)
smoke record --base "$BASE" --username coordinator-s01 --password "$PASSWORD" --tz America/New_York

# The worker runs the scans and sends their emails one by one: SIGKILL it as soon as the first
# email has arrived, in the middle of the batch, and start another.
start_worker
wait_for "the first email" 120 test -s "$MAIL"
log "SIGKILL the worker in the middle of its batch, then start it again"
stop worker KILL
KILLED_AT=$("$PY" -c 'import time; print(time.time())')
start_worker
smoke first --mail "$MAIL" --within 90
smoke healthz --base "$BASE" --token "$HEALTHZ_TOKEN" --expect 200 --within 90

log "stop Redis: /healthz must say 503 (each GET answered within its bound), then 200 again"
stop redis TERM
smoke healthz --base "$BASE" --token "$HEALTHZ_TOKEN" --expect 503 --within 20 --strict
start_redis
smoke healthz --base "$BASE" --token "$HEALTHZ_TOKEN" --expect 200 --within 60 --strict

smoke check --mail "$MAIL" --within 120 --killed-at "$KILLED_AT" --in-flight "$WORKER_CONCURRENCY"

# SMOKE_LOAD_ARGS: more options for benchmarks/load.py, e.g. "--think 5".
load() {
    # shellcheck disable=SC2086
    "$PY" benchmarks/load.py --base "$BASE" --password-file "$WORK/load-users.csv" --create \
        "$@" ${SMOKE_LOAD_ARGS:-}
}
case "${SMOKE_LOAD:-short}" in
    0 | no) ;;
    full) load --users 50 --time 60s ;;
    *) load --users 10 --time 15s ;;
esac
smoke healthz --base "$BASE" --token "$HEALTHZ_TOKEN" --expect 200 --within 30
log "production smoke passed"
