"""Rolling restart under load, the local proof of readiness and drain (what Kubernetes' probes and rolling
updates rely on): two replicas of every service behind Envoy; each replica in turn is replaced (a new one
started on a free slot and SERVING, then SIGTERM to the old one: NOT_SERVING at once, Envoy's health check
takes it out, it drains and exits) while a closed-loop load of logins and ListMyAccounts runs through the
gateway for at least ROLLING_LOAD_SECONDS (60 by default). Zero failed requests. Reported as siege does.

Each service has three slots (ports known to Envoy from the start): two run, the third is where the next
replica starts. The replicas of a service share its database and its consumer group; the outbox relays and
the projector run as their own processes, untouched."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from bank.member.v1 import member_service_pb2 as member_msgs
from bank.member.v1 import member_service_pb2_grpc
from bank.my_accounts.v1 import my_accounts_service_pb2 as view_msgs
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from tests.conftest import ServiceProcess, free_port, wait_serving
from tests.gateway.harness import Envoy
from tests.integration.full_system import GrpcWay
from tests.integration.test_member_service import PASSWORD
from tests.operator import operator_keys, operator_token
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
LOAD_SECONDS = float(os.environ.get("ROLLING_LOAD_SECONDS", "60"))
WORKERS = 4
MEMBERS = 4
SLOTS = 3
SERVICES = ("member", "customer", "account", "my_accounts")


@dataclass
class Slots:
    """The three slots of one service: their processes (None = free)."""

    name: str
    slots: list[ServiceProcess]
    running: list[int] = field(default_factory=list)

    def start(self, slot: int) -> None:
        service = self.slots[slot]
        service.process = None
        process = service.start(wait=False)
        wait_serving(service.address, timeout=90, process=process)
        self.running.append(slot)

    def free_slot(self) -> int:
        return next(i for i in range(SLOTS) if i not in self.running)

    def replace(self, old: int, envoy: Envoy) -> float:
        """Start a replica on the free slot, wait until SERVING and until the gateway's health check has put it
        in rotation (as a rolling update waits for readiness), then stop `old` gracefully; seconds taken."""
        began = time.monotonic()
        new = self.free_slot()
        self.start(new)
        in_rotation(envoy, self.name, self.slots[new].address)
        process = self.slots[old].process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, f"{self.name} slot {old} did not exit cleanly"
        self.slots[old].process = None
        self.running.remove(old)
        return time.monotonic() - began


def in_rotation(envoy: Envoy, cluster: str, address: str, timeout: float = 30.0) -> None:
    """Until Envoy's admin /clusters shows the host healthy (its active health check passed)."""
    line = f"{cluster}::{address}::health_flags::healthy"
    deadline = time.monotonic() + timeout
    while line not in (clusters := envoy.admin("/clusters").text):
        seen = [c for c in clusters.splitlines() if c.startswith(f"{cluster}::") and "health_flags" in c]
        assert time.monotonic() < deadline, f"{cluster} {address} not healthy at the gateway: {seen}"
        time.sleep(0.1)


@dataclass
class Load:
    ok: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0


async def worker(target: str, banking_id: str, load: Load, stop: asyncio.Event) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        members = member_service_pb2_grpc.MemberServiceStub(channel)
        view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
        while not stop.is_set():
            began = time.perf_counter()
            try:
                login = await members.Login(
                    member_msgs.LoginRequest(banking_id=banking_id, password=PASSWORD), timeout=15
                )
                load.latencies.append(time.perf_counter() - began)
                load.ok["Login"] += 1
                load.bytes += login.ByteSize()
                metadata = [("authorization", f"Bearer {login.access_token}")]
                for _ in range(3):
                    began = time.perf_counter()
                    answer = await view.ListMyAccounts(view_msgs.ListMyAccountsRequest(), timeout=15, metadata=metadata)
                    load.latencies.append(time.perf_counter() - began)
                    load.ok["ListMyAccounts"] += 1
                    load.bytes += answer.ByteSize()
            except grpc.aio.AioRpcError as error:
                load.failed.append(f"{error.code().name}: {error.details()}")


def test_rolling_restart_of_every_service_under_load_fails_no_request(service_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    envoy_port, internal = free_port(), [free_port() for _ in range(SLOTS)]
    jwks = f"http://127.0.0.1:{envoy_port}/.well-known/jwks.json"  # through the gateway: any member replica
    common = {
        "OUTBOX_RELAY": "off",
        "PROJECTOR": "off",
        "SHUTDOWN_DRAIN_DELAY_SECONDS": "2",  # > the gateway's health-check interval
        "SHUTDOWN_GRACE_SECONDS": "10",
        "HASH_PROFILE": "cheap",
        "THROTTLE_ID_CAPACITY": "100000",
        "THROTTLE_SOURCE_CAPACITY": "100000",
        "MEMBER_JWKS_URL": jwks,
        "MY_ACCOUNTS_ADDR": ",".join(f"127.0.0.1:{p}" for p in internal),
    }
    groups = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in SERVICES}
    services: dict[str, Slots] = {}
    for name in SERVICES:
        slots = []
        for i in range(SLOTS):
            extra = {**common, f"{name.upper()}_KAFKA_GROUP_ID": groups[name]}
            if name == "my_accounts":
                extra["MY_ACCOUNTS_INTERNAL_PORT"] = str(internal[i])
            slots.append(service_factory(name, **extra))
        services[name] = Slots(name, slots)
    var_dir = services["member"].slots[0].env["VAR_DIR"]
    operator_keys(var_dir)
    envoy = Envoy(
        tmp_path / "gateway",
        {
            **{f"GATEWAY_{n.upper()}_ADDR": ",".join(s.address for s in services[n].slots) for n in SERVICES},
            "GATEWAY_MEMBER_KEYS_ADDR": ",".join(s.keys_url.removeprefix("http://") for s in services["member"].slots),
            "MEMBER_JWKS_FILE": "",
            "OPERATOR_JWKS_FILE": str(Path(var_dir) / "keys" / "operator" / "jwks.json"),
            "GATEWAY_LOGIN_RPS": "100000",
            "GATEWAY_LOGIN_BURST": "100000",
            "GATEWAY_GLOBAL_RPS": "100000",
            "GATEWAY_GLOBAL_BURST": "100000",
            "GATEWAY_CLIENT_RPS": "100000",
            "GATEWAY_CLIENT_BURST": "100000",
            "GATEWAY_LOGIN_CLIENT_RPS": "100000",
            "GATEWAY_LOGIN_CLIENT_BURST": "100000",
            "GATEWAY_HEALTH_INTERVAL_MS": "500",
        },
        port=envoy_port,
    )
    (tmp_path / "gateway").mkdir()
    helpers = []
    try:
        for slot in (0, 1):
            services["member"].start(slot)
        envoy.start()
        for name in ("customer", "account", "my_accounts"):
            for slot in (0, 1):
                services[name].start(slot)
        helpers = [
            services[n].slots[0].start(role)
            for n, role in (
                ("customer", "relay"),
                ("member", "relay"),
                ("account", "relay"),
                ("my_accounts", "projector"),
            )
        ]
        banking_ids = enroll_members(envoy.grpc_target, var_dir)

        load = Load()
        replaced: list[tuple[str, float]] = []

        async def run() -> float:
            stop = asyncio.Event()
            began = time.monotonic()
            workers = [
                asyncio.create_task(worker(envoy.grpc_target, banking_ids[i % MEMBERS], load, stop))
                for i in range(WORKERS)
            ]
            await asyncio.sleep(2)  # load first, then the restarts
            for name in SERVICES:
                for old in list(services[name].running):
                    replaced.append((name, await asyncio.to_thread(services[name].replace, old, envoy)))
            await asyncio.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - began)))
            stop.set()
            await asyncio.gather(*workers)
            return time.monotonic() - began

        elapsed = asyncio.run(run())
    finally:
        for process in helpers:
            if process.poll() is None:
                process.terminate()
        envoy.stop()

    transactions = sum(load.ok.values())
    attempts = transactions + len(load.failed)
    availability = 100.0 * transactions / attempts if attempts else 0.0
    record(
        f"Rolling restart: {len(replaced)} replicas replaced ({', '.join(f'{n} {s:.1f}s' for n, s in replaced)}) under "
        f"{WORKERS} closed-loop clients for {elapsed:.0f}s: transactions {transactions} "
        f"({load.ok['Login']} logins, {load.ok['ListMyAccounts']} ListMyAccounts), availability {availability:.2f}%, "
        f"failed {len(load.failed)}, response time avg {statistics.mean(load.latencies) * 1000:.1f} ms, "
        f"longest {max(load.latencies) * 1000:.0f} ms, throughput {transactions / elapsed:.1f} trans/s"
    )
    assert len(replaced) == 2 * len(SERVICES)
    assert elapsed >= LOAD_SECONDS
    assert load.failed == [], Counter(load.failed).most_common(5)
    assert load.ok["Login"] > 0 and load.ok["ListMyAccounts"] > 0


def enroll_members(target: str, var_dir: str) -> list[str]:
    """MEMBERS customers, each enrolled as a banking member (retried until the member service knows them)."""
    way = GrpcWay(
        {"bank.customer.v1.CustomerService": target, "bank.member.v1.MemberService": target}, "gRPC via Envoy"
    )
    operator = operator_token(var_dir)
    banking_ids = []
    try:
        for i in range(MEMBERS):
            customer = way.call("bank.customer.v1.CustomerService/RegisterCustomer", {"name": f"Load {i}"}, operator)
            assert customer.code == "OK", customer.body
            banking_id = f"rolling{i}-{uuid.uuid4().hex[:6]}"
            request = {
                "customerId": customer.body["customer"]["customerId"],
                "bankingId": banking_id,
                "password": PASSWORD,
            }
            deadline = time.monotonic() + 60
            while True:
                enrolled = way.call("bank.member.v1.MemberService/EnrollMember", request, operator)
                if enrolled.code != "FAILED_PRECONDITION" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert enrolled.code == "OK", enrolled.body
            banking_ids.append(banking_id)
    finally:
        way.close()
    return banking_ids
