#!/usr/bin/env bash
# Record the current contracts as the published baseline that `buf breaking` checks every change against
# (proto/published.tar.gz: buf.yaml, proto/bank and the vendored imports, byte-for-byte reproducible).
# Run it only when a contract version is released; a breaking change then needs a new package version (v2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - buf.yaml proto/bank third_party/googleapis \
  | gzip -n >proto/published.tar.gz
echo "published baseline: proto/published.tar.gz"
