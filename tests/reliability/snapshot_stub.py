"""A healthy stand-in for my_accounts' internal snapshot port, run inside a test's network namespace
(test_partition.py): `python -m tests.reliability.snapshot_stub HOST PORT`. Prints "ready" once serving."""

from __future__ import annotations

import asyncio
import sys

import grpc

from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from tests.integration.test_accounts_directory import FlakyView


async def main(host: str, port: int) -> None:
    servicer = FlakyView()
    servicer.healthy = True
    server = grpc.aio.server()
    my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
