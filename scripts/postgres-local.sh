#!/usr/bin/env bash
# postgres-local.sh - a local PostgreSQL server (Debian's package) for tests, the demo and CI, in the
# repository's var/postgres, listening on 127.0.0.1 only, trust authentication (loopback, tests only).
#
#   postgres-local.sh start    install the Debian package if missing + initdb once + start detached + wait until
#                              it accepts connections + create the role and databases; while running: just wait
#   postgres-local.sh stop     pg_ctl stop -m fast (by the data dir's PID), idempotent
#   postgres-local.sh restart | status (exit 0 running, 3 stopped) | clean (stop + delete the data dir)
#   postgres-local.sh env      print TEST_POSTGRES_URL=... and DATABASE_URL hints (for eval)
#   postgres-local.sh psql ... psql as the superuser on this server
#
# Settings (environment):
#   PG_RUN_DIR=<repo>/var/postgres   data dir (data/), socket dir, server log, PID file
#   PG_HOST=127.0.0.1  PG_PORT=55432  PG_USER=bank (a role with CREATEDB: tests make a database or schema each)
#   PG_DATABASES="bank_test customer member account my_accounts"   created (owned by PG_USER) when missing
#   PG_START_TIMEOUT=60  PG_VERSION (default: the newest under /usr/lib/postgresql)
# PostgreSQL refuses to run as root: as root, initdb and the server run as the `postgres` system user
# (created by the Debian package), which owns the data dir; as another user, as that user.
set -euo pipefail

SCRIPT_PATH="$(readlink -f -- "${BASH_SOURCE[0]}" 2>/dev/null || printf '%s' "${BASH_SOURCE[0]}")"
REPO_DIR="$(cd -- "$(dirname -- "$SCRIPT_PATH")/.." && pwd -P)"
PG_RUN_DIR="${PG_RUN_DIR:-$REPO_DIR/var/postgres}"
case "$PG_RUN_DIR" in /*) ;; *) PG_RUN_DIR="$PWD/$PG_RUN_DIR" ;; esac
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-55432}"
PG_USER="${PG_USER:-bank}"
PG_DATABASES="${PG_DATABASES:-bank_test customer member account my_accounts}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
# As root the server runs as `postgres`, which must reach the run dir: a repository under a folder closed to
# other users (e.g. /root) gets its run dir under /tmp instead, named after the repository's path.
if [[ "$(id -u)" == 0 ]] && id postgres >/dev/null 2>&1 \
    && ! runuser -u postgres -- test -x "$(dirname -- "$PG_RUN_DIR")" 2>/dev/null; then
  PG_RUN_DIR="/tmp/postgres-local-$(printf '%s' "$REPO_DIR" | cksum | cut -d' ' -f1)"
fi
DATA_DIR="$PG_RUN_DIR/data"
LOG_FILE="$PG_RUN_DIR/server.log"
PID_FILE="$PG_RUN_DIR/postgres.pid"
LOCK_FILE="$PG_RUN_DIR/.lock"

log() { printf '[postgres-local] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_bin() {
  local v="${PG_VERSION:-}"
  if [[ -z "$v" ]]; then
    v="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -n | tail -n1)"
  fi
  [[ -n "$v" && -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]] && printf '%s' "/usr/lib/postgresql/$v/bin"
}

install_if_missing() {
  PG_BIN="$(find_bin || true)"
  [[ -n "$PG_BIN" ]] && return 0
  [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed and this is not root: apt-get install postgresql"
  log "installing Debian's postgresql package (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  PG_BIN="$(find_bin || true)"
  [[ -n "$PG_BIN" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/pg_ctl found"
}

as_owner() {   # run a command as the data dir's owner (postgres when we are root)
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_su() {   # psql as the superuser over the unix socket
  as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN_DIR" -p "$PG_PORT" -U postgres -d postgres "$@"
}

read_pid() { [[ -f "$DATA_DIR/postmaster.pid" ]] && head -n1 "$DATA_DIR/postmaster.pid" | tr -dc '0-9'; }

running() {
  local pid
  pid="$(read_pid || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DATA_DIR"
}

ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

LOCKED=0
take_lock() {   # serialise start/stop/clean of one run dir (fd 8; the server does not inherit it)
  [[ "$LOCKED" == 0 ]] || return 0
  LOCKED=1
  mkdir -p "$PG_RUN_DIR"
  exec 8>>"$LOCK_FILE"
  if command -v flock >/dev/null 2>&1; then flock -w 300 8 || die "another postgres-local.sh holds $LOCK_FILE"; fi
}

init_once() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
  log "initdb $DATA_DIR"
  mkdir -p "$DATA_DIR"
  if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$PG_RUN_DIR" "$DATA_DIR"; fi
  chmod 700 "$DATA_DIR"
  as_owner "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PG_RUN_DIR/initdb.log" 2>&1 \
    || { cat "$PG_RUN_DIR/initdb.log" >&2; die "initdb failed"; }
  cat >>"$DATA_DIR/postgresql.conf" <<EOF
# postgres-local.sh: loopback only, small and fast (tests; durability is not the point here)
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_RUN_DIR'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
}

setup_roles() {
  psql_su <<EOF
SELECT 'CREATE ROLE $PG_USER LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') \gexec
EOF
  local db
  for db in $PG_DATABASES; do
    psql_su <<EOF
SELECT 'CREATE DATABASE $db OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
EOF
  done
}

cmd_wait() {
  local deadline=$((SECONDS + PG_START_TIMEOUT))
  until ready; do
    if ! running; then
      log "PostgreSQL is not running; last lines of $LOG_FILE:"; tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
      return 1
    fi
    (( SECONDS < deadline )) || { log "not ready after ${PG_START_TIMEOUT}s"; tail -n 40 "$LOG_FILE" >&2; return 1; }
    sleep 0.2
  done
}

cmd_start() {
  take_lock
  install_if_missing
  if running; then
    log "already running (pid $(read_pid))"
    cmd_wait
    setup_roles
    return
  fi
  if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$PG_HOST" "$PG_PORT" 2>/dev/null; then
    die "port $PG_HOST:$PG_PORT is in use by another process; stop it or set PG_PORT"
  fi
  init_once
  if [[ "$(id -u)" == 0 ]]; then touch "$LOG_FILE"; chown postgres:postgres "$LOG_FILE"; fi
  log "starting PostgreSQL ($PG_BIN) on $PG_HOST:$PG_PORT (run dir $PG_RUN_DIR)"
  # pg_ctl daemonizes the server (its own session, stdin closed); -w waits until it accepts connections.
  as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$PG_START_TIMEOUT" start >/dev/null 8>&- \
    || { tail -n 40 "$LOG_FILE" >&2; die "pg_ctl start failed"; }
  cmd_wait
  read_pid >"$PID_FILE"
  setup_roles
  log "ready: postgresql+asyncpg://$PG_USER@$PG_HOST:$PG_PORT/<database> (pid $(read_pid), log $LOG_FILE)"
}

cmd_stop() {
  PG_BIN="$(find_bin || true)"
  if [[ -z "$PG_BIN" ]] || ! running; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $(read_pid)"
  as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop >/dev/null || die "pg_ctl stop failed"
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  PG_BIN="$(find_bin || true)"
  if [[ -n "$PG_BIN" ]] && running; then
    if ready; then echo "running pid=$(read_pid) url=postgresql+asyncpg://$PG_USER@$PG_HOST:$PG_PORT ready run_dir=$PG_RUN_DIR"
    else echo "running pid=$(read_pid) starting run_dir=$PG_RUN_DIR"; fi
  else
    echo "stopped run_dir=$PG_RUN_DIR"
    return 3
  fi
}

case "${1:-}" in
  start)   cmd_start ;;
  stop)    take_lock; cmd_stop ;;
  restart) take_lock; cmd_stop; cmd_start ;;
  status)  cmd_status ;;
  clean)   take_lock; cmd_stop; rm -rf "$DATA_DIR" "$LOG_FILE" "$PID_FILE" "$PG_RUN_DIR/initdb.log"; log "cleaned $PG_RUN_DIR" ;;
  env)     echo "TEST_POSTGRES_URL=postgresql+asyncpg://$PG_USER@$PG_HOST:$PG_PORT/bank_test" ;;
  psql)    shift; PG_BIN="$(find_bin)" || die "not installed"; psql_su "$@" ;;
  *) echo "usage: $0 {start|stop|restart|status|clean|env|psql}" >&2; exit 2 ;;
esac
