#!/usr/bin/env bash
# Refresh third_party/googleapis from the installed googleapis-common-protos wheel (pinned in pyproject.toml).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$root/.venv/bin/python}"
src="$("$py" -c 'import google.api, os; print(os.path.dirname(os.path.dirname(google.api.__file__)))')"
for f in api/annotations api/http api/field_behavior rpc/status rpc/error_details rpc/code; do
  install -D -m 0644 "$src/google/$f.proto" "$root/third_party/googleapis/google/$f.proto"
done
