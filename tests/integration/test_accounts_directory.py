"""The member service's accounts-snapshot client against a real gRPC server that fails: the breaker opens
after its threshold and then makes no network call at all; after the TTL one probe (never more at once)
decides; a healthy answer closes it again. Login always gets an answer, never an error."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory, replicas_channel
from bank.my_accounts.v1 import my_accounts_service_pb2 as pb
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from domain.member.ports import AccountsSnapshotState

CUSTOMER = "2d5b6b84-ea31-4287-92fc-5c12b4d6f24e"


class FlakyView(my_accounts_service_pb2_grpc.AccountsSnapshotServiceServicer):
    def __init__(self) -> None:
        self.healthy = False
        self.received = 0
        self.in_flight = self.max_in_flight = 0

    async def GetAccountsSnapshot(self, request, context):  # type: ignore[no-untyped-def]
        self.received += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            if not self.healthy:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
            return pb.GetAccountsSnapshotResponse()
        finally:
            self.in_flight -= 1


@pytest.fixture
async def view():  # type: ignore[no-untyped-def]
    server = grpc.aio.server()
    servicer = FlakyView()
    my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(0)


async def test_open_breaker_makes_no_call_and_half_open_admits_one_probe(view) -> None:  # type: ignore[no-untyped-def]
    servicer, address = view
    async with grpc.aio.insecure_channel(address) as channel:
        directory = GrpcAccountsDirectory(channel, deadline_seconds=1, breaker_threshold=3, breaker_ttl_seconds=1)
        for _ in range(3):
            assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.UNAVAILABLE
        assert await directory.state() == "opened"
        assert servicer.received == 3

        for _ in range(20):  # open: answered at once, without touching the network
            assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.UNAVAILABLE
        assert servicer.received == 3 and directory.calls == 3

        await asyncio.sleep(1.1)  # TTL over: the next callers race; one probe goes out, the rest fall back
        servicer.healthy = True
        answers = await asyncio.gather(*(directory.snapshot(CUSTOMER) for _ in range(10)))
        assert servicer.max_in_flight == 1 and servicer.received == 4
        assert sum(a.state is AccountsSnapshotState.FRESH for a in answers) == 1
        assert await directory.state() == "closed"
        assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.FRESH


async def test_a_slow_view_costs_at_most_the_deadline(view) -> None:  # type: ignore[no-untyped-def]
    servicer, address = view
    servicer.healthy = True
    async with grpc.aio.insecure_channel(address) as channel:
        directory = GrpcAccountsDirectory(channel, deadline_seconds=0.01, breaker_threshold=5, breaker_ttl_seconds=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.UNAVAILABLE
        assert loop.time() - started < 0.5


async def test_replicas_share_the_calls_round_robin() -> None:
    """MY_ACCOUNTS_ADDR=host:a,host:b: client-side round robin, every replica gets its share."""
    servers, views = [], []
    for _ in range(2):
        server = grpc.aio.server()
        servicer = FlakyView()
        servicer.healthy = True
        my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append((server, port))
        views.append(servicer)
    try:
        channel = replicas_channel(",".join(f"127.0.0.1:{port}" for _, port in servers))
        directory = GrpcAccountsDirectory(channel, deadline_seconds=2, breaker_threshold=5, breaker_ttl_seconds=1)
        for _ in range(10):
            assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.FRESH
        # round robin over the READY replicas (the first calls may go out before both are connected)
        assert sum(v.received for v in views) == 10 and min(v.received for v in views) >= 3
        await channel.close()
    finally:
        for server, _ in servers:
            await server.stop(0)
