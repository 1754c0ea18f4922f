#!/usr/bin/env bash
# Create .venv and install the project with its pinned dependencies and dev tools (idempotent: skipped when
# pyproject.toml has not changed since the last install), then protoc-gen-openapiv2 (Go, for
# scripts/gen_openapi.py) into .venv/bin unless that version is already there. Needs python3 >= 3.11 and, for
# the plugin, Go (`go` on PATH or /usr/local/go/bin/go); Kafka needs java 17 + mvn.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  echo "[bootstrap] creating .venv and installing dependencies (first run takes a minute)" >&2
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
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
