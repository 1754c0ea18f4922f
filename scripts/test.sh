#!/usr/bin/env bash
# The whole test suite from a fresh clone: install, check the contracts and the architecture, start the real
# Kafka broker (if it is not running), run pytest, stop what it started. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh
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
step "ruff"
ruff check .
ruff format --check .
step "architecture (import-linter)"
lint-imports

step "Kafka"
started_kafka=0
if ! scripts/kafka-local.sh status >/dev/null 2>&1; then
  scripts/kafka-local.sh start
  started_kafka=1
fi
cleanup() { if [[ $started_kafka == 1 ]]; then scripts/kafka-local.sh stop || true; fi; }
trap cleanup EXIT

step "pytest"
rm -f var/test-secrets/used.txt  # the secrets this run's tests use, registered as they go (tests/used_secrets.py)
status=0
python -m pytest "$@" || status=$?
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
