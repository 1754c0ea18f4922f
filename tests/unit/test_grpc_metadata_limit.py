"""A service called directly answers a request by its metadata's size the same way every time: gRPC's defaults
(a soft limit of 8 KiB and a hard one of 16 KiB) refuse at random in between, so the same call could pass or
fail. The shared server sets one limit (32 KiB) as both; the gateway never forwards that much
(tests/gateway/test_gateway.py::test_header_sets_over_the_limit_never_reach_a_service)."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adapters.inbound.grpc.server import GrpcServer, ServerOptions

TRIES = 8


async def _codes(port: int, size: int) -> set[str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        codes = set()
        for _ in range(TRIES):
            try:
                await stub.Check(health_pb2.HealthCheckRequest(), metadata=(("x-big", "b" * size),), timeout=5)
                codes.add("OK")
            except grpc.aio.AioRpcError as error:
                codes.add(error.code().name)
        return codes


@pytest.mark.parametrize(("size", "expected"), [(12_000, "OK"), (31_000, "OK"), (33_000, "RESOURCE_EXHAUSTED")])
async def test_one_metadata_limit_the_same_answer_every_time(size: int, expected: str) -> None:
    server = GrpcServer([], ServerOptions())
    await server.start()
    await server.set_serving(True)
    try:
        assert await _codes(server.port, size) == {expected}
    finally:
        await server.stop()
