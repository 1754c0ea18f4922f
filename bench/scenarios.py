"""The benchmarks: (a) login vs the raw hash rate, (b) my accounts vs a grpc.aio hello world, (e) REST through
Envoy vs direct gRPC, and memory. Each answers a section: its figures (name -> value, printed and tabled)
and its raw windows (for bench.json)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from confluent_kafka.admin import AdminClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bank.account.v1 import account_service_pb2, account_service_pb2_grpc
from bank.member.v1 import member_service_pb2, member_service_pb2_grpc
from bank.my_accounts.v1 import my_accounts_service_pb2, my_accounts_service_pb2_grpc
from bench.method import (
    CLIENT_CPUS,
    SERVER_CPUS,
    Result,
    ab_pairs,
    closed_loop,
    difference,
    error_kinds,
    open_loop,
    percentile,
    pin,
    prime,
    quiesce,
    ratio,
    rss_kib,
    taskset,
)
from bench.system import ROOT, Kafka, System, free_port

KEYCLOAK_LOGINS_PER_VCPU = 15.0  # argon2id m=7 MiB t=5 p=1 (Keycloak sizing guide)
FRESHNESS_RATE = {"short": 10.0, "default": 50.0, "long": 100.0}  # balance changes a second


@dataclass(frozen=True)
class Mode:
    name: str
    seconds: float  # each measured window
    warmup: float
    pairs: int
    view_concurrency: int
    open_timeout: float  # an open-loop call not answered by then is an error (the window still ends)
    settle: float  # at most this long for the server core's processes to go quiet before a window
    login_concurrency: int = 2  # = HASH_WORKERS + HASH_QUEUE (1 + 1): saturated, never refused by admission


MODES = {
    "short": Mode("short", seconds=0.5, warmup=0.2, pairs=2, view_concurrency=16, open_timeout=1.0, settle=2.0),
    "default": Mode("default", seconds=4.0, warmup=1.0, pairs=3, view_concurrency=32, open_timeout=5.0, settle=10.0),
    "long": Mode("long", seconds=15.0, warmup=2.0, pairs=5, view_concurrency=32, open_timeout=10.0, settle=20.0),
}


def r3(value: float) -> float:
    return round(value, 3)


def result_from(data: dict[str, Any]) -> Result:
    s = data["summary"]
    result = Result(s["kind"], s["load"], s["seconds"], s["ok"], s["errors"], s["server_cpu_s"])
    result.latencies_ms = data["latencies_ms"]
    result.error_kinds = s["error_kinds"]
    return result


class HashRate:
    """bench.hashrate in its own process on the server core."""

    def __init__(self, profile: str, workers: int, queue: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [*taskset(SERVER_CPUS), sys.executable, "-m", "bench.hashrate", profile, str(workers), str(queue)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.process.stdout is not None and self.process.stdin is not None
        json.loads(self.process.stdout.readline())  # ready

    async def run(self, kind: str, load: float, seconds: float, warmup: float, call_timeout: float = 10.0) -> Result:
        def exchange() -> Result:
            assert self.process.stdin is not None and self.process.stdout is not None
            request = {"kind": kind, "load": load, "seconds": seconds, "warmup": warmup, "call_timeout": call_timeout}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            return result_from(json.loads(self.process.stdout.readline()))

        return await asyncio.get_running_loop().run_in_executor(None, exchange)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def windows(pairs: list[tuple[Result, Result]]) -> list[list[dict[str, Any]]]:
    return [[a.summary(), b.summary()] for a, b in pairs]


# ---------------------------------------------------------------------------------------------------- (a)
async def login(system: System, mode: Mode) -> dict[str, Any]:
    section: dict[str, Any] = {"figures": {}, "windows": {}}
    for profile in ("owasp", "cheap"):
        member = system.members[profile]
        seeded = system.seeded[profile]
        system.pin_only(member)
        workers = int(member.env["HASH_WORKERS"])
        hashes = HashRate(profile, workers, workers)  # the service's default queue
        try:
            async with grpc.aio.insecure_channel(member.address) as channel:
                stub = member_service_pb2_grpc.MemberServiceStub(channel)
                request = member_service_pb2.LoginRequest(banking_id=seeded.banking_id, password=seeded.password)

                async def call(stub=stub, request=request) -> None:  # type: ignore[no-untyped-def]
                    await stub.Login(request, timeout=30)

                pids = [member.pid]
                quiet = [member.pid, hashes.process.pid]
                c = mode.login_concurrency
                await prime(call, 1, rounds=2)
                pairs = await ab_pairs(
                    mode.pairs,
                    lambda call=call, pids=pids, c=c: closed_loop(call, c, mode.seconds, pids, mode.warmup),
                    lambda c=c, hashes=hashes: hashes.run("closed", c, mode.seconds, mode.warmup),
                    quiet,
                    mode.settle,
                )
                await quiesce(quiet, mode.settle)
                single_login = await closed_loop(call, 1, mode.seconds, pids, mode.warmup)
                await quiesce(quiet, mode.settle)
                single_hash = await hashes.run("closed", 1, mode.seconds, mode.warmup)
                max_login = ratio([(a.rate, 1.0) for a, _ in pairs]).median
                rate80 = max(1.0, 0.8 * max_login)
                await quiesce(quiet, mode.settle)
                open_login = await open_loop(call, rate80, mode.seconds, pids, mode.open_timeout)
                await quiesce(quiet, mode.settle)
                open_hash = await hashes.run("open", rate80, mode.seconds, 0, mode.open_timeout)
        finally:
            hashes.close()
        login_ratio = ratio([(a.rate, b.rate) for a, b in pairs])
        overhead = difference([(a.cpu_us_per_op, b.cpu_us_per_op) for a, b in pairs])
        logins_per_core = ratio([(a.rate, 1.0) for a, _ in pairs]).median
        verifies_per_core = ratio([(b.rate, 1.0) for _, b in pairs]).median
        f = {
            "logins_per_s_per_core": r3(logins_per_core),
            "verifies_per_s_per_core": r3(verifies_per_core),
            "login_ratio": login_ratio.summary(),
            # The same ratio from CPU per operation (verify / login): what a dedicated core would give if both
            # are CPU-bound; unlike the rate ratio it does not move with the share of the core each one got.
            "login_ratio_by_cpu": ratio([(b.cpu_us_per_op, a.cpu_us_per_op) for a, b in pairs]).summary(),
            "cpu_us_per_login": r3(ratio([(a.cpu_us_per_op, 1.0) for a, _ in pairs]).median),
            "cpu_us_per_verify": r3(ratio([(b.cpu_us_per_op, 1.0) for _, b in pairs]).median),
            "overhead_cpu_us": overhead.summary(),
            "c1_login_p50_ms": r3(single_login.p(50)),
            "c1_login_p99_ms": r3(single_login.p(99)),
            "c1_hash_p50_ms": r3(single_hash.p(50)),
            "c1_hash_p99_ms": r3(single_hash.p(99)),
            "open80_rate": r3(rate80),
            "open80_login_p50_ms": r3(open_login.p(50)),
            "open80_login_p99_ms": r3(open_login.p(99)),
            "open80_hash_p50_ms": r3(open_hash.p(50)),
            "open80_hash_p99_ms": r3(open_hash.p(99)),
            "login_errors": error_kinds([*(a for a, _ in pairs), single_login, open_login]),
            "verify_errors": error_kinds([*(b for _, b in pairs), single_hash, open_hash]),
        }
        if profile == "owasp":
            f["keycloak_anchor_logins_per_s_per_vcpu"] = KEYCLOAK_LOGINS_PER_VCPU
        section["figures"][profile] = f
        section["windows"][profile] = {
            "pairs_login_vs_verify": windows(pairs),
            "c1": [single_login.summary(), single_hash.summary()],
            "open80": [open_login.summary(), open_hash.summary()],
        }
    return section


# ---------------------------------------------------------------------------------------------------- (b)
def view_call(address: str, token: str) -> tuple[grpc.aio.Channel, Callable[[], Awaitable[Any]]]:
    channel = grpc.aio.insecure_channel(address)
    stub = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
    request = my_accounts_service_pb2.ListMyAccountsRequest()
    metadata = (("authorization", f"Bearer {token}"),)

    async def call() -> None:
        answer = await stub.ListMyAccounts(request, metadata=metadata, timeout=10)
        if len(answer.accounts) != 3:
            raise AssertionError(f"{len(answer.accounts)} accounts")

    return channel, call


async def view(system: System, mode: Mode) -> dict[str, Any]:
    service = system.procs["my_accounts"]
    system.pin_only(service)
    port = free_port()
    hello = subprocess.Popen(  # noqa: S603, ASYNC220 - our own module, before any window
        [*taskset(SERVER_CPUS), sys.executable, "-m", "bench.hello", str(port)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert hello.stdout is not None
    hello.stdout.readline()
    token = system.seeded["cheap"].access_token
    view_channel, view_rpc = view_call(service.address, token)
    hello_channel, hello_rpc = view_call(f"127.0.0.1:{port}", token)
    quiet = [service.pid, hello.pid]
    try:
        c = mode.view_concurrency
        await prime(view_rpc, c)
        await prime(hello_rpc, c)
        pairs = await ab_pairs(
            mode.pairs,
            lambda: closed_loop(view_rpc, c, mode.seconds, [service.pid], mode.warmup),
            lambda: closed_loop(hello_rpc, c, mode.seconds, [hello.pid], mode.warmup),
            quiet,
            mode.settle,
        )
        single = await ab_pairs(
            1,
            lambda: closed_loop(view_rpc, 1, mode.seconds, [service.pid], mode.warmup),
            lambda: closed_loop(hello_rpc, 1, mode.seconds, [hello.pid], mode.warmup),
            quiet,
            mode.settle,
        )
        hello_max = ratio([(b.rate, 1.0) for _, b in pairs]).median
        view_max = ratio([(a.rate, 1.0) for a, _ in pairs]).median
        opens = {}
        for share in (50, 80):  # each at this share of its own maximum: the same utilization, not the same rate
            view_rate, hello_rate = max(1.0, view_max * share / 100), max(1.0, hello_max * share / 100)
            opens[share] = await ab_pairs(
                1,
                lambda r=view_rate: open_loop(view_rpc, r, mode.seconds, [service.pid], mode.open_timeout),
                lambda r=hello_rate: open_loop(hello_rpc, r, mode.seconds, [hello.pid], mode.open_timeout),
                quiet,
                mode.settle,
            )
    finally:
        await view_channel.close()
        await hello_channel.close()
        hello.terminate()
        hello.wait(timeout=10)
    (v1, h1) = single[0]
    figures: dict[str, Any] = {
        "view_qps_per_core": r3(ratio([(a.rate, 1.0) for a, _ in pairs]).median),
        "hello_qps_per_core": r3(hello_max),
        "view_ratio": ratio([(a.rate, b.rate) for a, b in pairs]).summary(),
        "view_ratio_by_cpu": ratio([(b.cpu_us_per_op, a.cpu_us_per_op) for a, b in pairs]).summary(),
        "cpu_us_per_rpc_view": r3(ratio([(a.cpu_us_per_op, 1.0) for a, _ in pairs]).median),
        "cpu_us_per_rpc_hello": r3(ratio([(b.cpu_us_per_op, 1.0) for _, b in pairs]).median),
        "cpu_us_per_rpc_difference": difference([(a.cpu_us_per_op, b.cpu_us_per_op) for a, b in pairs]).summary(),
        "c1_view_p50_ms": r3(v1.p(50)),
        "c1_view_p99_ms": r3(v1.p(99)),
        "c1_hello_p50_ms": r3(h1.p(50)),
        "c1_hello_p99_ms": r3(h1.p(99)),
    }
    for share, [(v, h)] in opens.items():
        figures[f"open{share}_view_rate"] = r3(v.load)
        figures[f"open{share}_hello_rate"] = r3(h.load)
        figures[f"open{share}_view_p50_ms"] = r3(v.p(50))
        figures[f"open{share}_view_p99_ms"] = r3(v.p(99))
        figures[f"open{share}_hello_p50_ms"] = r3(h.p(50))
        figures[f"open{share}_hello_p99_ms"] = r3(h.p(99))
    everything = [*pairs, *single, *(p for o in opens.values() for p in o)]
    figures["view_errors"] = error_kinds(a for a, _ in everything)
    figures["hello_errors"] = error_kinds(b for _, b in everything)
    return {
        "figures": figures,
        "windows": {
            "pairs_view_vs_hello": windows(pairs),
            "c1": windows(single),
            **{f"open{s}": windows(p) for s, p in opens.items()},
        },
    }


# ---------------------------------------------------------------------------------------------------- (e)
async def rest_vs_grpc(system: System, mode: Mode) -> dict[str, Any]:
    """ListMyAccounts three ways: REST/JSON through Envoy (transcoded to gRPC), gRPC through Envoy, and gRPC
    direct. Envoy and the service share the server core, so the CPU figures are the total per request.

    The REST client (httpx) costs far more CPU per request than the gRPC client (some 9 ms against well under
    1 ms here): REST throughput is the client's, not the gateway's, and REST latency includes the client's
    own cost. So the hop itself is measured with one client on both sides, gRPC through Envoy against gRPC
    direct (`hop_*`), and REST at a rate its client sustains (half the lower of the two maxima)."""
    service = system.procs["my_accounts"]
    envoy = system.envoy
    assert envoy is not None
    system.pin_only(service, envoy)  # Envoy and the service share the server core: total CPU is what counts
    token = system.seeded["cheap"].access_token
    grpc_channel, grpc_rpc = view_call(service.address, token)
    hop_channel, hop_rpc = view_call(f"127.0.0.1:{system.envoy_port}", token)
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.envoy_port}",
        headers={"authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=mode.view_concurrency, max_keepalive_connections=mode.view_concurrency),
    )

    async def rest_rpc() -> None:
        answer = await client.get("/v1/my/accounts", timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"HTTP {answer.status_code}")
        if len(answer.json()["accounts"]) != 3:
            raise AssertionError("accounts")

    both = [service.pid, envoy.pid]
    try:
        c = mode.view_concurrency
        await prime(rest_rpc, c)
        await prime(grpc_rpc, c)
        await prime(hop_rpc, c)
        pairs = await ab_pairs(
            mode.pairs,
            lambda: closed_loop(rest_rpc, c, mode.seconds, both, mode.warmup),
            lambda: closed_loop(grpc_rpc, c, mode.seconds, [service.pid], mode.warmup),
            both,
            mode.settle,
        )
        hops = await ab_pairs(
            mode.pairs,
            lambda: closed_loop(hop_rpc, c, mode.seconds, both, mode.warmup),
            lambda: closed_loop(grpc_rpc, c, mode.seconds, [service.pid], mode.warmup),
            both,
            mode.settle,
        )
        direct_max = ratio([(b.rate, 1.0) for _, b in pairs]).median
        rest_max = ratio([(a.rate, 1.0) for a, _ in pairs]).median
        hop_rate = max(1.0, ratio([(a.rate, 1.0) for a, _ in hops]).median / 2)
        rate = max(1.0, min(direct_max, rest_max) / 2)
        hop_opens = await ab_pairs(
            mode.pairs,
            lambda: open_loop(hop_rpc, hop_rate, mode.seconds, both, mode.open_timeout),
            lambda: open_loop(grpc_rpc, hop_rate, mode.seconds, [service.pid], mode.open_timeout),
            both,
            mode.settle,
        )
        opens = await ab_pairs(
            mode.pairs,
            lambda: open_loop(rest_rpc, rate, mode.seconds, both, mode.open_timeout),
            lambda: open_loop(grpc_rpc, rate, mode.seconds, [service.pid], mode.open_timeout),
            both,
            mode.settle,
        )
    finally:
        await client.aclose()
        await grpc_channel.close()
        await hop_channel.close()
    figures = {
        "hop_qps": r3(ratio([(a.rate, 1.0) for a, _ in hops]).median),
        "grpc_qps": r3(direct_max),
        "hop_cpu_us_per_req_envoy_plus_service": r3(ratio([(a.cpu_us_per_op, 1.0) for a, _ in hops]).median),
        "hop_cpu_ratio": ratio([(a.cpu_us_per_op, b.cpu_us_per_op) for a, b in hops]).summary(),
        "hop_open50_rate": r3(hop_rate),
        "hop_added_p50_ms": difference([(a.p(50), b.p(50)) for a, b in hop_opens]).summary(),
        "hop_added_p99_ms": difference([(a.p(99), b.p(99)) for a, b in hop_opens]).summary(),
        "rest_qps": r3(rest_max),
        "rest_tput_ratio": ratio([(a.rate, b.rate) for a, b in pairs]).summary(),
        "cpu_us_per_req_envoy_plus_service": r3(ratio([(a.cpu_us_per_op, 1.0) for a, _ in pairs]).median),
        "cpu_us_per_req_service_alone": r3(ratio([(b.cpu_us_per_op, 1.0) for _, b in pairs]).median),
        "cpu_ratio": ratio([(a.cpu_us_per_op, b.cpu_us_per_op) for a, b in pairs]).summary(),
        "open_rate": r3(rate),
        "added_p50_ms": difference([(a.p(50), b.p(50)) for a, b in opens]).summary(),
        "added_p99_ms": difference([(a.p(99), b.p(99)) for a, b in opens]).summary(),
        "open_rest_p50_ms": r3(ratio([(a.p(50), 1.0) for a, _ in opens]).median),
        "open_rest_p99_ms": r3(ratio([(a.p(99), 1.0) for a, _ in opens]).median),
        "open_grpc_p50_ms": r3(ratio([(b.p(50), 1.0) for _, b in opens]).median),
        "open_grpc_p99_ms": r3(ratio([(b.p(99), 1.0) for _, b in opens]).median),
        "rest_errors": error_kinds(a for a, _ in [*pairs, *opens]),
        "hop_errors": error_kinds(a for a, _ in [*hops, *hop_opens]),
        "grpc_errors": error_kinds(b for _, b in [*pairs, *hops, *opens, *hop_opens]),
    }
    return {
        "figures": figures,
        "windows": {
            "pairs_rest_vs_grpc": windows(pairs),
            "pairs_hop_vs_grpc": windows(hops),
            "open_rest": windows(opens),
            "open_hop": windows(hop_opens),
        },
    }


# ---------------------------------------------------------------------------------------------------- (c)
async def freshness(system: System, mode: Mode) -> dict[str, Any]:
    """Deposits (1 KRW) at a fixed arrival rate over the member's three accounts; for each, the lag from the
    Deposit's answer (its commit is before it) to the view holding it: a watcher reads the view's SQLite file,
    the one ListMyAccounts reads, every `watch_ms` (a read-only connection from the load generator's core,
    a few microseconds a read), so the lag is measured without loading the view. Polling ListMyAccounts
    itself for each change did: at 50 changes/s the pollers took the view's core from its projector, and
    the lag fed on itself. At the end, ListMyAccounts (min_sequence) must show every account's last deposit."""
    service = system.procs["my_accounts"]
    system.pin_only(service)  # the view (API + in-process projector) on the server core
    seeded = system.seeded["cheap"]
    rate = FRESHNESS_RATE[mode.name]
    seconds = 1.0 if mode.name == "short" else 60.0 if mode.name == "long" else 10.0
    watch_ms = 1.0
    bearer = (("authorization", f"Bearer {seeded.access_token}"),)
    changes: list[tuple[str, int, float]] = []  # (account, sequence, answered at)
    seen: dict[str, list[tuple[float, int]]] = {n: [] for n in seeded.account_numbers}  # when each sequence showed
    deposit_errors: dict[str, int] = {}
    view_db = sqlite3.connect(f"file:{system.var_dir / 'my_accounts' / 'my_accounts.db'}?mode=ro", uri=True)
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            now = time.perf_counter()
            rows = view_db.execute(
                "SELECT account_number, sequence FROM view_accounts WHERE customer_id = ?", (seeded.customer_id,)
            ).fetchall()
            for number, sequence in rows:
                if not seen[number] or seen[number][-1][1] != sequence:
                    seen[number].append((now, sequence))
            await asyncio.sleep(watch_ms / 1000)

    async with grpc.aio.insecure_channel(system.procs["account"].address) as account_channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(account_channel)
        counter = 0

        async def change() -> None:
            nonlocal counter
            counter += 1
            number = seeded.account_numbers[counter % len(seeded.account_numbers)]
            try:
                answer = await accounts.Deposit(
                    account_service_pb2.DepositRequest(
                        account_number=number, amount=1, idempotency_key=f"bench-fresh-{uuid.uuid4().hex}"
                    ),
                    metadata=bearer,
                    timeout=10,
                )
            except grpc.aio.AioRpcError as error:
                deposit_errors[error.code().name] = deposit_errors.get(error.code().name, 0) + 1
                return
            changes.append((number, answer.account.sequence, time.perf_counter()))

        await quiesce([service.pid], mode.settle)
        watcher = asyncio.create_task(watch())
        try:
            result = await open_loop(change, rate, seconds, [service.pid], call_timeout=40)
            last = {number: max((s for n, s, _ in changes if n == number), default=0) for number in seen}
            deadline = time.perf_counter() + 30
            # the watcher's records, polled up to 30 s for the last change of each account
            while any(not seen[n] or seen[n][-1][1] < last[n] for n in seen) and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        finally:
            done.set()
            await watcher
            view_db.close()
    lags: list[float] = []
    never = 0
    for number, sequence, answered in changes:
        shown = next((t for t, s in seen[number] if s >= sequence), None)
        if shown is None:
            never += 1
        else:
            lags.append(max(0.0, 1000 * (shown - answered)))  # shown before the answer arrived: no lag
    listed_ok = await _last_deposits_listed(service.address, bearer, last)
    ordered = sorted(lags)
    figures = {
        "changes_per_s": rate,
        "seconds": round(result.seconds, 1),
        "changes_seen": len(lags),
        "lag_p50_ms": r3(percentile(ordered, 50)),
        "lag_p99_ms": r3(percentile(ordered, 99)),
        "lag_max_ms": r3(ordered[-1]) if ordered else float("nan"),
        "watch_interval_ms": watch_ms,
        "producer_linger_ms": 1,  # the outbox relay's (adapters/outbound/kafka/relay.py)
        "last_deposits_listed": listed_ok,
        "errors": {**deposit_errors, **result.error_kinds, **({"never_seen": never} if never else {})},
    }
    return {"figures": figures, "windows": {"lags_ms": [round(v, 3) for v in lags]}}


async def _last_deposits_listed(address: str, bearer: tuple[tuple[str, str], ...], last: dict[str, int]) -> bool:
    """Whether ListMyAccounts says `min_sequence_reached` for each account's last deposit."""
    async with grpc.aio.insecure_channel(address) as channel:
        view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
        for number, sequence in last.items():
            request = my_accounts_service_pb2.ListMyAccountsRequest(account_number=number, min_sequence=sequence)
            if not (await view.ListMyAccounts(request, metadata=bearer, timeout=10)).min_sequence_reached:
                return False
    return True


# ---------------------------------------------------------------------------------------------------- (d)
TAKEOVER_ROUNDS = {"short": 1, "default": 2, "long": 5}


async def takeover(system: System, mode: Mode) -> dict[str, Any]:
    """kill -9 of the my_accounts service (its API and its projector are one process), one deposit on each of
    the member's accounts while it is down, then a restart. Per round: seconds from the restart to SERVING (the
    process's start time: the baseline) and to the first and the last of those deposits visible through
    ListMyAccounts (`min_sequence_reached`). The service has a group.instance.id (static membership, as a
    StatefulSet's replica would), so its partitions come back without waiting for the dead member's session
    to expire; a last round restarts it under another instance id, which shows that wait. Then every
    account's balance and sequence in the view must equal the account service's: nothing lost, nothing applied
    twice (balances are absolute, so a double apply shows as a sequence ahead of the source)."""
    service = system.procs["my_accounts"]
    seeded = system.seeded["cheap"]
    bearer = (("authorization", f"Bearer {seeded.access_token}"),)
    rounds: list[dict[str, Any]] = []
    plan = [("static", service.env)] * TAKEOVER_ROUNDS[mode.name]
    plan.append(
        ("new instance id", {**service.env, "MY_ACCOUNTS_KAFKA_GROUP_INSTANCE_ID": f"bench-{uuid.uuid4().hex[:6]}"})
    )
    async with grpc.aio.insecure_channel(system.procs["account"].address) as account_channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(account_channel)
        for kind, env in plan:
            system.pin_only(service)
            await quiesce([service.pid], mode.settle)
            assert service.process is not None
            service.process.kill()  # SIGKILL: no drain, no commit of anything in flight
            service.process.wait(timeout=10)
            made: list[tuple[str, int]] = []
            for number in seeded.account_numbers:
                answer = await accounts.Deposit(
                    account_service_pb2.DepositRequest(
                        account_number=number, amount=1, idempotency_key=f"bench-takeover-{uuid.uuid4().hex}"
                    ),
                    metadata=bearer,
                    timeout=10,
                )
                made.append((number, answer.account.sequence))
            service.env = env
            began = time.perf_counter()
            service.start(SERVER_CPUS)
            rounds.append({"kind": kind, **await _watch_restart(service.address, bearer, made, began)})
    view = await _listed(service.address, bearer)
    source: dict[str, tuple[int, int]] = {}
    async with grpc.aio.insecure_channel(system.procs["account"].address) as account_channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(account_channel)
        for number in seeded.account_numbers:
            got = await accounts.GetAccount(
                account_service_pb2.GetAccountRequest(account_number=number), metadata=bearer, timeout=10
            )
            source[number] = (got.account.balance, got.account.sequence)
    static = [r for r in rounds if r["kind"] == "static"]
    figures: dict[str, Any] = {
        "rounds_static": len(static),
        "start_to_serving_s_median": r3(percentile(sorted(r["serving_s"] for r in static), 50)),
        "start_to_first_applied_s_median": r3(percentile(sorted(r["first_applied_s"] for r in static), 50)),
        "start_to_first_applied_s_max": r3(max(r["first_applied_s"] for r in static)),
        "serving_to_first_applied_s_max": r3(max(r["first_applied_s"] - r["serving_s"] for r in static)),
        "start_to_all_applied_s_max": r3(max(r["all_applied_s"] for r in static)),
        "new_instance_id_first_applied_s": r3(rounds[-1]["first_applied_s"]),
        "session_timeout_ms": int(service.env.get("KAFKA_SESSION_TIMEOUT_MS", "6000")),
        "view_equals_source": view == source,
    }
    return {"figures": figures, "windows": {"rounds": rounds, "view": view, "source": source}}


async def _watch_restart(
    address: str, bearer: tuple[tuple[str, str], ...], made: list[tuple[str, int]], began: float
) -> dict[str, float]:
    """Poll a restarted view every 5 ms: when it is SERVING, and when each of `made` (account, sequence) shows."""
    seen: dict[str, float] = {}
    serving = float("nan")
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
        while len(seen) < len(made) and time.perf_counter() - began < 120:
            try:
                if serving != serving:  # NaN: not yet
                    status = (await health.Check(health_pb2.HealthCheckRequest(), timeout=1)).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        serving = time.perf_counter() - began
                for number, sequence in made:
                    if number not in seen:
                        request = my_accounts_service_pb2.ListMyAccountsRequest(
                            account_number=number, min_sequence=sequence
                        )
                        if (await view.ListMyAccounts(request, metadata=bearer, timeout=1)).min_sequence_reached:
                            seen[number] = time.perf_counter() - began
            except grpc.aio.AioRpcError:
                pass  # not listening yet, or not serving yet
            await asyncio.sleep(0.005)
    times = sorted(seen.values())
    return {
        "serving_s": serving,
        "first_applied_s": times[0] if times else float("nan"),
        "all_applied_s": times[-1] if len(times) == len(made) else float("nan"),
    }


async def _listed(address: str, bearer: tuple[tuple[str, str], ...]) -> dict[str, tuple[int, int]]:
    async with grpc.aio.insecure_channel(address) as channel:
        view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
        listed = await view.ListMyAccounts(my_accounts_service_pb2.ListMyAccountsRequest(), metadata=bearer, timeout=10)
    return {a.account_number: (a.balance, a.sequence) for a in listed.accounts}


# ---------------------------------------------------------------------------------------------- scale-out
async def scale_out(system: System, mode: Mode) -> dict[str, Any]:
    """ListMyAccounts at saturation from one my_accounts replica (on the server core) and from two (one per
    core), alternated in pairs. A second replica takes the second core, so here the load generator shares both
    cores with the replicas (it is pinned to one core everywhere else): this is the machine's throughput with
    two replicas, client included, not a per-core figure. The replicas share the view database and consumer
    group: how the topics' partitions were split between them is reported beside the figures (a replica
    beyond the partition count would project nothing; queries are served by all of them alike)."""
    first = system.procs["my_accounts"]
    second = system.add_view_replica()
    token = system.seeded["cheap"].access_token
    both_cpus = SERVER_CPUS | CLIENT_CPUS
    channel_1, call_1 = view_call(first.address, token)
    channel_2, call_2 = view_call(second.address, token)
    turn = itertools.cycle([call_1, call_2])

    async def either() -> None:
        await next(turn)()

    try:
        system.pin_only(first)
        pin(second.pid, CLIENT_CPUS)
        pin(os.getpid(), both_cpus)  # the load generator: on both cores for this section
        c = mode.view_concurrency
        await prime(call_1, c)
        await prime(call_2, c)
        pids = [first.pid, second.pid]
        pairs = await ab_pairs(
            mode.pairs,
            lambda: closed_loop(call_1, c, mode.seconds, pids, mode.warmup),
            lambda: closed_loop(either, 2 * c, mode.seconds, pids, mode.warmup),
            pids,
            mode.settle,
        )
        split = await asyncio.to_thread(partition_split, system.kafka, first.env["MY_ACCOUNTS_KAFKA_GROUP_ID"])
    finally:
        pin(os.getpid(), CLIENT_CPUS)
        await channel_1.close()
        await channel_2.close()
    figures: dict[str, Any] = {
        "one_replica_qps": r3(ratio([(a.rate, 1.0) for a, _ in pairs]).median),
        "two_replicas_qps": r3(ratio([(b.rate, 1.0) for _, b in pairs]).median),
        "scale_ratio": ratio([(b.rate, a.rate) for a, b in pairs]).summary(),
        "cpu_us_per_rpc_one": r3(ratio([(a.cpu_us_per_op, 1.0) for a, _ in pairs]).median),
        "cpu_us_per_rpc_two": r3(ratio([(b.cpu_us_per_op, 1.0) for _, b in pairs]).median),
        "partitions_per_replica": sorted(split.values()),
        "errors": error_kinds([r for pair in pairs for r in pair]),
    }
    return {"figures": figures, "windows": {"pairs_one_vs_two": windows(pairs), "assignment": split}}


def partition_split(kafka: Kafka, group_id: str) -> dict[str, int]:
    """Partitions assigned to each member of a consumer group (by client host and member id)."""
    admin = AdminClient(kafka.client())
    [future] = admin.describe_consumer_groups([group_id], request_timeout=10).values()
    group = future.result(timeout=15)
    return {
        f"{m.group_instance_id or m.member_id}": len(m.assignment.topic_partitions) if m.assignment else 0
        for m in group.members
    }


# ------------------------------------------------------------------------------------------------- memory
def memory(system: System) -> dict[str, Any]:
    figures = {f"{p.name}_rss_mib": round(rss_kib(p.pid) / 1024, 1) for p in system.python_services()}
    if system.envoy is not None:
        figures["envoy_rss_mib"] = round(rss_kib(system.envoy.pid) / 1024, 1)
    return {"figures": figures, "windows": {}}


# --------------------------------------------------------------------------------------------------- soak
SOAK_RATE = 20.0  # calls a second: nine ListMyAccounts, then a login (cheap profile), over and over


async def soak(system: System, seconds: float, windows: int = 10) -> dict[str, Any]:
    """A steady mixed load in open loop (fixed arrival times, so every window's latency is comparable) for
    `seconds`, cut in `windows` windows; after each, every process's RSS. Figures: p99 of the first and the
    last window and their ratio (drift), each process's RSS growth from the first window to the last, errors."""
    seeded, member = system.seeded["cheap"], system.members["cheap"]
    view_channel, view_rpc = view_call(system.procs["my_accounts"].address, seeded.access_token)
    login_channel = grpc.aio.insecure_channel(member.address)
    stub = member_service_pb2_grpc.MemberServiceStub(login_channel)
    request = member_service_pb2.LoginRequest(banking_id=seeded.banking_id, password=seeded.password)
    calls = 0

    async def mixed() -> None:
        nonlocal calls
        calls += 1
        if calls % 10 == 0:
            await stub.Login(request, timeout=10)
        else:
            await view_rpc()

    processes = [*system.python_services(), *([system.envoy] if system.envoy is not None else [])]
    rows: list[tuple[Result, dict[str, int]]] = []
    try:
        for _ in range(windows):
            result = await open_loop(mixed, SOAK_RATE, seconds / windows, [p.pid for p in processes], 10.0)
            rows.append((result, {p.name: rss_kib(p.pid) for p in processes}))
    finally:
        await view_channel.close()
        await login_channel.close()
    (first, rss_first), (last, rss_last) = rows[0], rows[-1]
    figures: dict[str, Any] = {
        "seconds": seconds,
        "rate_per_s": SOAK_RATE,
        "windows": windows,
        "p99_first_window_ms": r3(first.p(99)),
        "p99_last_window_ms": r3(last.p(99)),
        "p99_drift": r3(last.p(99) / first.p(99)) if first.p(99) else float("nan"),
        **{f"{n}_rss_growth_percent": r3(100 * (rss_last[n] - rss_first[n]) / rss_first[n]) for n in rss_first},
        "errors": error_kinds([r for r, _ in rows]),
    }
    windows_out = [{"p99_ms": r3(r.p(99)), "ok": r.ok, "errors": r.errors, "rss_kib": rss} for r, rss in rows]
    return {"figures": figures, "windows": {"soak": windows_out}}
