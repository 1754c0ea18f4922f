"""Checks deploy/grafana/bank-overview.json: valid JSON, and every panel query valid PromQL (promtool parses
them as recording rules, with Grafana's variables replaced by plain values)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "bank-overview.json"
VARIABLES = {"$__rate_interval": "5m", "$job": ".*"}


def main() -> int:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(expressions):
        for name, value in VARIABLES.items():
            expr = expr.replace(name, value)
        lines += [f"      - record: dashboard:panel{i}", f"        expr: {json.dumps(expr)}"]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as rules:
        rules.write("\n".join(lines) + "\n")
        rules.flush()
        checked = subprocess.run(["promtool", "check", "rules", rules.name], capture_output=True, text=True)
    if checked.returncode != 0:
        print(checked.stdout + checked.stderr, file=sys.stderr)
        return 1
    print(f"{DASHBOARD.name}: {len(expressions)} queries parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
