"""`python -m bench [--short|--long] [--only a,b,e,memory] [--soak SECONDS] [--out DIR]`: start the system
(Kafka is reused at KAFKA_BOOTSTRAP_SERVERS, or started), run the benchmarks, print their figures and ratios, and write
DIR/bench.md (a markdown table) and DIR/bench.json (figures, every measured window, the machine).
Figures, never verdicts: nothing here asserts a speed."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.method import CLIENT_CPUS, StealMeter, machine_info
from bench.system import ROOT, System

ALL = ("a", "b", "c", "e", "memory", "d", "scale")
TITLES = {
    "a": "(a) Login vs the raw hash rate (same hasher, pool, core)",
    "b": "(b) ListMyAccounts vs a grpc.aio hello world (same RPC, client, core)",
    "c": "(c) Freshness: a deposit's commit to its visibility through ListMyAccounts (min_sequence)",
    "e": "(e) REST and gRPC through Envoy vs direct gRPC (ListMyAccounts)",
    "memory": "Memory: RSS of each process after the load",
    "scale": "Scale-out: ListMyAccounts from one my_accounts replica vs two (one per core, the client on both)",
    "d": "(d) kill -9 of the my_accounts service (and its projector): restart to SERVING and to events applied",
    "soak": "Soak: a steady mixed load, p99 drift and RSS growth from the first window to the last",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--short", action="store_true", help="seconds: a smoke run (CI), figures are noise")
    length.add_argument("--long", action="store_true", help="the README's figures: 5 pairs of 15 s windows")
    parser.add_argument("--only", default=",".join(ALL), help=f"a comma list of {', '.join(ALL)}")
    parser.add_argument("--soak", type=float, default=0, metavar="SECONDS", help="then a soak this long (1800: 30 min)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports", help="where bench.md/json go")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def finite(value: Any) -> Any:
    """The report with NaN and infinities as null (a window that measured nothing), so it is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "median" in value:
        return f"{value['median']} (min {value['min']}, max {value['max']})"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Benchmarks ({report['mode']} mode, {report['started']})",
        "",
        "Ratios are medians of per-pair ratios (A and B alternated), with min and max; server CPU from "
        "/proc/<pid>/stat over the measured windows only; server on core "
        f"{m['server_cpus']}, load generator on core {m['client_cpus']}.",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}, Python {m['python']}, "
        f"envoy {m['envoy'] or '-'}, load average before the run {m['loadavg_1m_5m']}, steal during the run "
        f"{report['steal_percent']} %.",
        "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()),
        "",
    ]
    for key, section in report["sections"].items():
        lines += [f"## {TITLES[key]}", ""]
        figures = section["figures"]
        if key == "a":
            profiles = list(figures)
            lines += ["| figure | " + " | ".join(profiles) + " |", "|---|" + "---|" * len(profiles)]
            names = dict.fromkeys(n for p in profiles for n in figures[p])
            for name in names:
                lines.append(f"| {name} | " + " | ".join(fmt(figures[p].get(name, "")) for p in profiles) + " |")
        else:
            lines += ["| figure | value |", "|---|---|"]
            lines += [f"| {name} | {fmt(value)} |" for name, value in figures.items()]
        lines.append("")
    lines += [f"Setup (start, seeding) {report['setup_seconds']} s; measuring {report['measure_seconds']} s.", ""]
    return "\n".join(lines)


def printable(key: str, section: dict[str, Any]) -> str:
    out = [TITLES[key]]
    figures = section["figures"]
    groups = figures.items() if key == "a" else [("", figures)]
    for group, values in groups:
        for name, value in values.items():
            out.append(f"  {(group + ' ') if group else ''}{name}: {fmt(value)}")
    return "\n".join(out)


async def measure(system: System, mode: scenarios.Mode, only: list[str], soak: float = 0) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    if "a" in only:
        await system.fresh_tokens()
        sections["a"] = await scenarios.login(system, mode)
        print(printable("a", sections["a"]), flush=True)
    if "b" in only:
        await system.fresh_tokens()
        sections["b"] = await scenarios.view(system, mode)
        print(printable("b", sections["b"]), flush=True)
    if "c" in only:
        await system.fresh_tokens()
        sections["c"] = await scenarios.freshness(system, mode)
        print(printable("c", sections["c"]), flush=True)
    if "e" in only:
        await system.fresh_tokens()
        sections["e"] = await scenarios.rest_vs_grpc(system, mode)
        print(printable("e", sections["e"]), flush=True)
    if "memory" in only:
        sections["memory"] = scenarios.memory(system)
        print(printable("memory", sections["memory"]), flush=True)
    if "d" in only:  # after memory: it replaces the view's process
        await system.fresh_tokens()
        sections["d"] = await scenarios.takeover(system, mode)
        print(printable("d", sections["d"]), flush=True)
    if "scale" in only:  # after (d): a second replica would hold partitions through its kills
        await system.fresh_tokens()
        sections["scale"] = await scenarios.scale_out(system, mode)
        print(printable("scale", sections["scale"]), flush=True)
    if soak:
        await system.fresh_tokens()
        sections["soak"] = await scenarios.soak(system, soak)
        print(printable("soak", sections["soak"]), flush=True)
    return sections


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mode = scenarios.MODES["short" if args.short else "long" if args.long else "default"]
    os.sched_setaffinity(0, CLIENT_CPUS)  # the load generator: before any thread is made
    started = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info()  # before the run: its load average is the machine's, not ours
    steal = StealMeter()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        system = System(Path(folder), with_envoy="e" in args.only)
        try:
            system.start()
            print(f"system up in {system.startup_seconds:.1f} s {system.phases} ({mode.name} mode)", flush=True)
            measuring = time.monotonic()
            sections = asyncio.run(measure(system, mode, args.only, args.soak))
            measure_seconds = time.monotonic() - measuring
        finally:
            system.stop()
    report: dict[str, Any] = {
        "mode": mode.name,
        "started": started,
        "machine": machine,
        "steal_percent": steal.percent(),
        "settings": asdict(mode),
        "setup_seconds": round(system.startup_seconds, 1),
        "setup_phases": system.phases,
        "measure_seconds": round(measure_seconds, 1),
        "total_seconds": round(time.monotonic() - began, 1),
        "sections": sections,
    }
    report = finite(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    (args.out / "bench.md").write_text(markdown(report))
    print(
        f"steal {report['steal_percent']} %; total {report['total_seconds']} s; wrote {args.out}/bench.md, bench.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
