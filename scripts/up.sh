#!/usr/bin/env bash
# The README's run command on a fresh clone: install (.venv, pinned deps), start Kafka and every service
# (`bank up`, idempotent), then run the demo, which checks every answer and exits non-zero on a surprise.
# Settings come from the environment (CUSTOMER_GRPC_PORT, KAFKA_BOOTSTRAP_SERVERS, BANK_VAR_DIR...).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh
# Once `bank up` has run, say how to stop, whether the demo passed or not (set -e exits on failure).
hint() { printf '\nStatus: .venv/bin/bank status    Stop everything: .venv/bin/bank down\n'; }
trap hint EXIT
.venv/bin/bank up
.venv/bin/bank demo
