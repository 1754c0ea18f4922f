"""The secrets tests used (passwords, access and refresh tokens, operator tokens), written down so the scan
after the suite (tests/fuzz/secret_scan.py) looks for these exact values in logs, Kafka records and error
messages, besides generic patterns. One value a line in var/test-secrets/used.txt (appended by every test
process of the run; the scan skips that file itself)."""

from __future__ import annotations

import os
from pathlib import Path

FILE = Path(__file__).resolve().parents[1] / "var" / "test-secrets" / "used.txt"
MIN_LENGTH = 8  # shorter values would match anywhere by chance

_seen: set[str] = set()


def remember(*values: str) -> None:
    new = [v for v in values if v and len(v) >= MIN_LENGTH and "\n" not in v and v not in _seen]
    if not new:
        return
    _seen.update(new)
    FILE.parent.mkdir(parents=True, exist_ok=True)
    with FILE.open("a", encoding="utf-8") as out:
        out.write("".join(f"{v}\n" for v in new))
        out.flush()
        os.fsync(out.fileno())


def used() -> set[str]:
    if not FILE.exists():
        return set()
    return {line for line in FILE.read_text(encoding="utf-8").splitlines() if len(line) >= MIN_LENGTH}
