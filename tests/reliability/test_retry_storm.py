"""L4 of the reliability notes, retry storms: the one synchronous call between services (the member service
asking my_accounts for the accounts snapshot at login) against a dependency that answers UNAVAILABLE to
everything for STORM_SECONDS (default 6; the notes' long form is 60) while logins keep coming from 8 clients.
The network attempts stay at the breaker's threshold plus one half-open probe per TTL, far under the notes'
budget of 1.1 attempts per request: the client never retries, and makes no call while the breaker is open.
(That no code retries INVALID_ARGUMENT, UNAUTHENTICATED or PERMISSION_DENIED: tests/unit/test_deadlines.py.)"""

from __future__ import annotations

import asyncio
import math
import os

import grpc

from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from domain.member.ports import AccountsSnapshotState
from tests.integration.test_accounts_directory import CUSTOMER, FlakyView
from tests.reliability.report import record

STORM_SECONDS = float(os.environ.get("STORM_SECONDS", "6"))


async def test_a_failing_dependency_gets_no_retry_storm() -> None:
    servicer = FlakyView()  # unhealthy: UNAVAILABLE after 50 ms, to every call
    server = grpc.aio.server()
    my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ttl, threshold, clients, requests = 1.0, 5, 8, 0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            directory = GrpcAccountsDirectory(
                channel, deadline_seconds=0.5, breaker_threshold=threshold, breaker_ttl_seconds=ttl
            )
            loop = asyncio.get_running_loop()
            end = loop.time() + STORM_SECONDS

            async def client() -> None:
                nonlocal requests
                while loop.time() < end:
                    assert (await directory.snapshot(CUSTOMER)).state is AccountsSnapshotState.UNAVAILABLE
                    requests += 1
                    await asyncio.sleep(0.005)

            await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        await server.stop(0)
    # Before the breaker opens, every client may have a call out (threshold or clients, whichever is more);
    # after, one half-open probe per TTL at most.
    allowed = max(threshold, clients) + math.ceil(STORM_SECONDS / ttl)
    record(
        f"L4 retry storm: the snapshot dependency UNAVAILABLE for {STORM_SECONDS:g}s while {requests} logins asked "
        f"for accounts: {servicer.received} network attempts ({servicer.received / requests:.3f} per request; "
        f"budget 1.1)"
    )
    assert requests > 10 * allowed
    assert servicer.received <= allowed
