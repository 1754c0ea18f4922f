"""Smoke test of the benchmark suite: `python -m bench --short` runs end to end against the real services,
Kafka and Envoy, and writes a well-formed report. No speed is asserted: the figures of a short run on a
shared machine are noise; they are the business of `python -m bench --long` on a quiet one."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

EXPECTED = {
    "a": ("login_ratio", "overhead_cpu_us", "logins_per_s_per_core", "c1_login_p99_ms", "c1_hash_p99_ms"),
    "b": ("view_ratio", "cpu_us_per_rpc_difference", "c1_view_p50_ms", "c1_hello_p50_ms", "open80_view_p99_ms"),
    "c": ("lag_p50_ms", "lag_p99_ms", "changes_seen", "last_deposits_listed"),
    "e": ("rest_tput_ratio", "cpu_ratio", "added_p50_ms", "added_p99_ms", "hop_added_p50_ms", "hop_cpu_ratio"),
    "memory": ("my_accounts_rss_mib", "member_cheap_rss_mib", "envoy_rss_mib"),
    "d": ("start_to_serving_s_median", "start_to_first_applied_s_max", "serving_to_first_applied_s_max"),
    "scale": ("one_replica_qps", "two_replicas_qps", "scale_ratio", "partitions_per_replica"),
    "soak": ("p99_first_window_ms", "p99_last_window_ms", "p99_drift", "my_accounts_rss_growth_percent"),
}


def test_short_mode_runs_and_writes_a_well_formed_report(kafka: str, tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--short", "--soak", "10", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "login_ratio" in run.stdout and "view_ratio" in run.stdout

    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["mode"] == "short"
    machine = report["machine"]
    for key in ("nproc", "cpu_model", "kernel", "python", "libraries"):
        assert machine[key], key
    assert machine["libraries"]["grpcio"]
    assert isinstance(report["steal_percent"], float)
    assert set(report["sections"]) == set(EXPECTED)
    figures = {key: section["figures"] for key, section in report["sections"].items()}
    for profile in ("owasp", "cheap"):
        for name in EXPECTED["a"]:
            assert name in figures["a"][profile], (profile, name)
        ratio = figures["a"][profile]["login_ratio"]
        assert {"median", "min", "max", "pairs"} <= set(ratio)
        assert len(ratio["pairs"]) == report["settings"]["pairs"]
    assert len(report["sections"]["soak"]["windows"]["soak"]) == 10
    assert figures["soak"]["errors"] == {}
    for key in ("b", "c", "e", "memory", "d", "scale", "soak"):
        for name in EXPECTED[key]:
            assert name in figures[key], (key, name)
    # Every ratio is a number (a window that measured nothing would make it NaN or missing).
    for value in (figures["a"]["owasp"]["login_ratio"], figures["b"]["view_ratio"], figures["e"]["cpu_ratio"]):
        assert math.isfinite(value["median"]) and value["median"] > 0
    assert all(v > 0 for v in figures["memory"].values())
    assert figures["c"]["changes_seen"] > 0 and figures["c"]["last_deposits_listed"] is True
    # (d): after each kill -9 and restart, every deposit made meanwhile reached the view, once
    assert figures["d"]["view_equals_source"] is True
    assert figures["scale"]["errors"] == {} and sum(figures["scale"]["partitions_per_replica"]) == 9
    assert all(math.isfinite(r["all_applied_s"]) for r in report["sections"]["d"]["windows"]["rounds"])

    table = (tmp_path / "bench.md").read_text()
    assert table.startswith("# Benchmarks (short mode")
    for heading in ("## (a)", "## (b)", "## (c)", "## (e)", "## Memory", "## (d)", "## Scale-out"):
        assert heading in table
    assert "| login_ratio |" in table and "| view_ratio |" in table
