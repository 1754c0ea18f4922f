"""The reliability suite's own report: one line per proof, collected in var/reports/reliability.txt and
printed by scripts/test.sh at the end of the run (pytest hides what passing tests print)."""

from __future__ import annotations

from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "var" / "reports" / "reliability.txt"


def start_report() -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("")


def record(line: str) -> None:
    print(line)
    with REPORT.open("a") as report:
        report.write(line.strip() + "\n")
