#!/usr/bin/env bash
# gateway.sh - the Envoy front door (REST/JSON and native gRPC on one port) in front of the services.
#
#   gateway.sh start    render the config if needed (scripts/gen_envoy.py --for-run: deploy/envoy/envoy.yaml
#                       with default settings, else a render of the environment under var/run/gateway/),
#                       start Envoy detached (setsid, stdin /dev/null, PID file), wait until the admin
#                       /ready answers LIVE; while running: exit 0
#   gateway.sh stop     SIGTERM the PID of the PID file (only if its command line is envoy), SIGKILL after
#                       $GATEWAY_STOP_TIMEOUT s
#   gateway.sh status   exit 0 running (prints the PID and ready state), 3 stopped
#
# Settings (environment): GATEWAY_PORT=8080 GATEWAY_ADMIN_PORT=9901 GATEWAY_BASE_ID=17 (Envoy's shared-memory
# id: a second Envoy on the host needs another) GATEWAY_{CUSTOMER,MEMBER,ACCOUNT,MY_ACCOUNTS,MEMBER_KEYS}_ADDR,
# OPERATOR_JWKS_FILE (default var/keys/operator/jwks.json), MEMBER_JWKS_FILE, GATEWAY_LOGIN_RPS/BURST,
# GATEWAY_GLOBAL_RPS/BURST, GATEWAY_CLIENT_RPS/BURST, GATEWAY_LOGIN_CLIENT_RPS/BURST and the other limits (see
# deploy/envoy/README.md), GATEWAY_START_TIMEOUT=20 GATEWAY_STOP_TIMEOUT=10.
# PID file var/run/gateway.pid; log (Envoy's own log and the JSON access log) var/log/gateway.log, where var is
# $GATEWAY_VAR_DIR (default <root>/var; `bank up` passes its var directory), which also holds the default
# OPERATOR_JWKS_FILE (<var>/keys/operator/jwks.json) and a render of overridden settings (<var>/run/gateway/).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd -P)"
cd "$root"  # the rendered config names files relative to the repository root

admin_port="${GATEWAY_ADMIN_PORT:-9901}"
base_id="${GATEWAY_BASE_ID:-17}"
start_timeout="${GATEWAY_START_TIMEOUT:-20}"
stop_timeout="${GATEWAY_STOP_TIMEOUT:-10}"
var_dir="${GATEWAY_VAR_DIR:-$root/var}"
pid_file="$var_dir/run/gateway.pid"
log_file="$var_dir/log/gateway.log"
# Read by scripts/gen_envoy.py --for-run (with the default var directory: the committed file's own settings).
export OPERATOR_JWKS_FILE="${OPERATOR_JWKS_FILE:-$var_dir/keys/operator/jwks.json}"
export GATEWAY_RENDER_DIR="$var_dir/run/gateway"
python="$root/.venv/bin/python"
envoy="$root/.venv/bin/envoy"

log() { printf '[gateway] %s\n' "$*" >&2; }

# The PID of the running gateway, or nothing: the PID file's process, only if it is an envoy.
running_pid() {
  [[ -f "$pid_file" ]] || return 0
  local pid
  pid="$(tr -dc '0-9' <"$pid_file")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 0
  local exe
  exe="$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)"
  if [[ "$(basename -- "$exe")" == envoy ]]; then printf '%s' "$pid"; fi
}

ready() {
  local answer
  answer="$(curl -fsS --max-time 1 "http://127.0.0.1:$admin_port/ready" 2>/dev/null || true)"
  [[ "$answer" == LIVE* ]]
}

start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    log "already running (pid $pid)"
    return 0
  fi
  local config
  # fails (with the reason) when the operator JWKS is missing: Envoy would refuse the config anyway
  config="$("$python" scripts/gen_envoy.py --for-run)"
  mkdir -p "$(dirname "$pid_file")" "$(dirname "$log_file")"
  log "starting Envoy with $config (admin 127.0.0.1:$admin_port, base id $base_id)"
  local began=$SECONDS
  rm -f "$pid_file"
  # setsid -f: a new session, parented by init; the child writes its own PID, then becomes Envoy (exec).
  # shellcheck disable=SC2016  # $$ and $@ are for the child shell
  # (A plain `setsid envoy &` was seen to get SIGTERM when the starting shell exited.)
  setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' gateway "$pid_file" \
    "$envoy" -c "$config" --base-id "$base_id" --concurrency 1 --file-flush-interval-msec 1000 </dev/null >>"$log_file" 2>&1
  local waited=0
  until [[ -s "$pid_file" ]] || ((waited >= 50)); do
    sleep 0.02
    waited=$((waited + 1))
  done
  pid="$(tr -dc '0-9' <"$pid_file" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { log "no PID file written"; return 1; }
  local deadline=$((SECONDS + start_timeout))
  until ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      log "Envoy exited during start; last lines of $log_file:"
      tail -n 20 "$log_file" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "not ready after ${start_timeout}s; stopping it (see $log_file)"
      stop
      return 1
    fi
    sleep 0.1
  done
  log "ready (pid $pid, $((SECONDS - began))s): http://127.0.0.1:${GATEWAY_PORT:-8080}  log: $log_file"
}

stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    log "not running"
    rm -f "$pid_file"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${stop_timeout}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$pid_file"
  log "stopped (pid $pid)"
}

status() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    echo "gateway: stopped"
    return 3
  fi
  if ready; then echo "gateway: running (pid $pid), ready"; else echo "gateway: running (pid $pid), NOT ready"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
