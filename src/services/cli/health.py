"""The standard gRPC health check (grpc.health.v1.Health/Check, overall service "") every service answers."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# A refused connection puts a channel in backoff (1 s, growing to 120 s by default); while polling a starting
# service that would hide the moment it starts listening, so reconnect quickly.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]

SERVING = "SERVING"
UNREACHABLE = "UNREACHABLE"


def channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


def check_on(chan: grpc.Channel, timeout: float = 1.0) -> str:
    """SERVING, NOT_SERVING, ... as the service reports it; UNREACHABLE if it does not answer in time;
    otherwise the gRPC status code name (e.g. UNIMPLEMENTED when something else listens on the port)."""
    stub = health_pb2_grpc.HealthStub(chan)
    try:
        response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code in (None, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return UNREACHABLE
        return code.name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def check(address: str, timeout: float = 1.0) -> str:
    with channel(address) as chan:
        return check_on(chan, timeout)
