#!/usr/bin/env bash
# Create .venv and install the project with its pinned dependencies and dev tools (idempotent: skipped when
# pyproject.toml has not changed since the last install). Needs python3 >= 3.11; Kafka needs java 17 + mvn.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ -f "$stamp" ]]; then exit 0; fi
echo "[bootstrap] creating .venv and installing dependencies (first run takes a minute)" >&2
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
rm -f .venv/.installed-*
touch "$stamp"
