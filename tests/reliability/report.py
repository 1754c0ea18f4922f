"""The suites' own reports: one line per proof, collected in var/reports/<name>.txt (reliability.txt for
tests/reliability, fuzz.txt for tests/fuzz) and printed by scripts/test.sh at the end of the run (pytest hides
what passing tests print)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "var" / "reports"
REPORT = REPORTS / "reliability.txt"


def start_report(name: str = "reliability") -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.txt").write_text("")


def record(line: str, name: str = "reliability") -> None:
    print(line)
    REPORTS.mkdir(parents=True, exist_ok=True)
    with (REPORTS / f"{name}.txt").open("a") as report:
        report.write(line.strip() + "\n")


def put(key: str, line: str, name: str) -> None:
    """Like `record`, but replaces an earlier line that starts with `key` (a suite run in parts, or a test run
    again, keeps one line per proof instead of starting the report over)."""
    print(line)
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.txt"
    lines = [ln for ln in (path.read_text().splitlines() if path.exists() else []) if not ln.startswith(key)]
    path.write_text("".join(f"{ln}\n" for ln in [*lines, line.strip()]))
