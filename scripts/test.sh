#!/usr/bin/env bash
# The whole test suite from a fresh clone: install, check the contracts and the architecture, start the real
# Kafka broker, PostgreSQL and the real Redis server (each only if it is not running), run pytest, stop what
# it started. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh --test
export PATH="$root/.venv/bin:$PATH"

step() { printf '\n== %s\n' "$*" >&2; }
step "contracts: buf lint, buf format, buf breaking against the published contract"
buf lint
buf format --diff --exit-code
buf breaking --against proto/published.tar.gz
step "generated stubs are up to date"
python scripts/gen_protos.py --check
step "gateway: deploy/envoy is up to date and envoy --mode validate accepts it"
python scripts/gen_envoy.py --check --validate
step "gateway: deploy/envoy/openapi.json is up to date"
python scripts/gen_openapi.py --check
step "kubernetes: deploy/k8s generated files up to date, kustomize renders, kubernetes-validate --strict"
scripts/validate-k8s.sh --no-pytest
step "ruff"
ruff check .
ruff format --check .
step "architecture (import-linter)"
lint-imports
step "alerts: promtool check rules, check config (deploy/prometheus/prometheus.yml), test rules"
promtool check rules deploy/prometheus/alerts.yml
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/alerts_test.yml
step "dashboard: deploy/grafana is valid JSON and its queries valid PromQL"
python scripts/check_dashboard.py

started_kafka=0
started_postgres=0
started_redis=0
cleanup() {
  if [[ $started_kafka == 1 ]]; then scripts/kafka-local.sh stop || true; fi
  if [[ $started_postgres == 1 ]]; then scripts/postgres-local.sh stop || true; fi
  if [[ $started_redis == 1 ]]; then scripts/redis-local.sh stop || true; fi
}
trap cleanup EXIT

step "Kafka"
if ! scripts/kafka-local.sh status >/dev/null 2>&1; then
  scripts/kafka-local.sh start
  started_kafka=1
fi

step "PostgreSQL"
if ! scripts/postgres-local.sh status >/dev/null 2>&1; then
  scripts/postgres-local.sh start
  started_postgres=1
fi
# The unit-of-work and migration suites and the services' PostgreSQL tests make their schemas and databases here.
eval "export $(scripts/postgres-local.sh env)"

step "Redis (Debian's redis-server, installed if missing)"
if ! scripts/redis-local.sh status >/dev/null 2>&1; then
  scripts/redis-local.sh start
  started_redis=1
fi
export "$(scripts/redis-local.sh env)"   # REDIS_URL for the tests

step "pytest"
# CI's sizes, to keep the whole run near 20 minutes (the suites' own defaults are the long ones):
# E11 on one seed of 10,000 events (test_freeze.py meets every time what a second seed met by chance), 100
# examples per RPC for the descriptor-driven fuzzing.
export E11_SEEDS="${E11_SEEDS:-1}" FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-100}"
rm -f var/test-secrets/used.txt  # the secrets this run's tests use, registered as they go (tests/used_secrets.py)
status=0
# Every run as on a machine booted a moment ago: pytest and every service it starts in a Linux time namespace
# whose monotonic clock starts near 0 (as root; offsets count from the host's clock, which /proc/uptime shows
# even inside another such namespace). A check that reads "never" as time 0 fails here, not on a new machine.
fresh_boot=()
if [[ $(id -u) == 0 ]] && unshare --time --monotonic=0 true 2>/dev/null; then
  fresh_boot=(unshare --time --monotonic="-$(cut -d. -f1 /proc/uptime)")
else
  echo "[test] not root or no time namespaces: the monotonic clock is the machine's own" >&2
fi
"${fresh_boot[@]}" python -m pytest --durations=30 "$@" || status=$?  # the slowest 30: what to look at when CI grows
if [[ -s var/reports/reliability.txt ]]; then
  step "reliability report (tests/reliability)"
  cat var/reports/reliability.txt
fi
step "secret scan: service logs (var/, pytest's tmp), Kafka topics"
python -m tests.secret_scan --report --kafka "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}" || status=1
if [[ -s var/reports/fuzz.txt ]]; then
  step "fuzz report (tests/fuzz)"
  cat var/reports/fuzz.txt
fi
exit "$status"
