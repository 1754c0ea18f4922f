"""A network partition through a network namespace this test makes (reliability notes, faults): the member
service's accounts-snapshot client (the one synchronous call between services, its real adapter) in the
host's namespace, a healthy snapshot server in a namespace of its own behind a veth pair. The partition is
the namespace's end of the link going down, as a pulled cable: packets on the open connection vanish (no RST,
no FIN), new connections find no route. Every snapshot answers within its deadline anyway (UNAVAILABLE, so
login goes on), the breaker opens, and once the link is back the accounts come back after the breaker's TTL,
on the same connection (TCP retransmits what was held). Needs root (CAP_NET_ADMIN), as CI has."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory
from domain.member.ports import AccountsSnapshotState
from tests.conftest import ROOT
from tests.integration.test_accounts_directory import CUSTOMER
from tests.reliability.report import record

DEADLINE, THRESHOLD, TTL = 0.5, 3, 1.0


@dataclass
class Namespace:
    name: str
    host_end: str
    far_end: str
    far_address: str

    def run(self, *command: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *command], check=True)

    def link(self, state: str) -> None:
        self.run("ip", "link", "set", self.far_end, state)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    n = os.getpid() % 250 + 1
    ns = Namespace(f"bankpart{os.getpid()}", f"bph{os.getpid()}"[:15], f"bpn{os.getpid()}"[:15], f"10.232.{n}.2")
    ip = ["ip"]
    subprocess.run([*ip, "netns", "add", ns.name], check=True)
    try:
        subprocess.run([*ip, "link", "add", ns.host_end, "type", "veth", "peer", "name", ns.far_end], check=True)
        subprocess.run([*ip, "link", "set", ns.far_end, "netns", ns.name], check=True)
        subprocess.run([*ip, "addr", "add", f"10.232.{n}.1/30", "dev", ns.host_end], check=True)
        subprocess.run([*ip, "link", "set", ns.host_end, "up"], check=True)
        ns.run("ip", "addr", "add", f"{ns.far_address}/30", "dev", ns.far_end)
        ns.run("ip", "link", "set", ns.far_end, "up")
        ns.run("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run([*ip, "link", "del", ns.host_end], check=False, capture_output=True)
        subprocess.run([*ip, "netns", "del", ns.name], check=False)


def start_stub(namespace: Namespace, port: int) -> subprocess.Popen:
    stub = [sys.executable, "-m", "tests.reliability.snapshot_stub", namespace.far_address, str(port)]
    command = ["ip", "netns", "exec", namespace.name, *stub]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return server


async def test_a_partitioned_snapshot_link_costs_login_its_deadline_and_heals(namespace: Namespace) -> None:
    port = 50064  # alone in its namespace
    server = start_stub(namespace, port)
    try:
        async with grpc.aio.insecure_channel(f"{namespace.far_address}:{port}") as channel:
            directory = GrpcAccountsDirectory(
                channel, deadline_seconds=DEADLINE, breaker_threshold=THRESHOLD, breaker_ttl_seconds=TTL
            )
            assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.FRESH
            namespace.link("down")
            slowest, states = 0.0, []
            for _ in range(10):
                started = time.monotonic()
                states.append((await directory.snapshot(CUSTOMER)).state)
                slowest = max(slowest, time.monotonic() - started)
            assert set(states) == {AccountsSnapshotState.UNAVAILABLE}
            assert slowest < DEADLINE + 0.5
            assert await directory.state() == "opened"
            calls_while_partitioned = directory.calls
            namespace.link("up")
            healed = time.monotonic()
            while (await directory.snapshot(CUSTOMER)).state is not AccountsSnapshotState.FRESH:
                assert time.monotonic() < healed + 20, "the accounts never came back after the link did"
                await asyncio.sleep(0.2)
            back = time.monotonic() - healed
    finally:
        server.terminate()
        server.wait(10)
    record(
        f"Partition (network namespace, link down): 10 snapshots answered UNAVAILABLE, slowest "
        f"{1000 * slowest:.0f} ms (deadline {1000 * DEADLINE:.0f} ms), {calls_while_partitioned} reached the "
        f"network before the breaker opened; accounts back {back:.1f}s after the link (breaker TTL {TTL:g} s)"
    )
