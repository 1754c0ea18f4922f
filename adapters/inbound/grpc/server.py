"""The gRPC server every service runs, written once: the interceptor, the standard health service
(NOT_SERVING until the service says it is ready), reflection (grpcurl list/describe), and a graceful stop:
on SIGTERM every service turns NOT_SERVING first, new calls are refused after `drain_delay`, and calls in
flight get `grace` seconds to finish."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from adapters.inbound.grpc.interceptors import ErrorAndContextInterceptor
from adapters.inbound.grpc.peer_identity import PeerIdentityInterceptor

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Servicer:
    """A servicer, the generated function that registers it, and its full service name."""

    name: str
    add_to_server: Callable[[object, grpc.aio.Server], None]
    implementation: object


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0
    grace: float = 10.0
    drain_delay: float = 0.0
    max_message_bytes: int = 1024 * 1024
    # Request metadata (headers) above this is refused, every time: gRPC's own default is a soft limit of 8 KiB
    # and a hard one of 16 KiB, refusing at random in between. The gateway lets through at most 16 KiB
    # (scripts/gen_envoy.py MAX_REQUEST_HEADERS_KB) plus what it adds, so no call through it reaches this.
    max_metadata_bytes: int = 32 * 1024
    max_concurrent_rpcs: int | None = None
    options: list[tuple[str, object]] = field(default_factory=list)
    # Mutual TLS (an internal port): the server's credentials, which require a client certificate signed by
    # the internal CA, and which caller identity may call which service (adapters/inbound/grpc/peer_identity.py).
    credentials: grpc.ServerCredentials | None = None
    allowed_callers: Mapping[str, frozenset[str]] | None = None


class GrpcServer:
    def __init__(self, servicers: Sequence[Servicer], opts: ServerOptions) -> None:
        self._servicers = servicers
        self._opts = opts
        self.grace = opts.grace
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[
                # first, so that it wraps everything else: a refused caller reaches no handler
                *([PeerIdentityInterceptor(opts.allowed_callers)] if opts.allowed_callers is not None else []),
                ErrorAndContextInterceptor(),
            ],
            maximum_concurrent_rpcs=opts.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", opts.max_message_bytes),
                ("grpc.max_send_message_length", opts.max_message_bytes),
                ("grpc.max_metadata_size", opts.max_metadata_bytes),  # the soft limit...
                ("grpc.absolute_max_metadata_size", opts.max_metadata_bytes),  # ...is the hard one
                ("grpc.so_reuseport", 0),
                *opts.options,
            ],
        )
        for s in servicers:
            s.add_to_server(s.implementation, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [s.name for s in servicers]
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        if opts.credentials is not None:
            self.port = self.server.add_secure_port(f"{opts.host}:{opts.port}", opts.credentials)
        else:
            self.port = self.server.add_insecure_port(f"{opts.host}:{opts.port}")

    async def set_serving(self, serving: bool) -> None:
        status = SERVING if serving else NOT_SERVING
        for name in ["", *(s.name for s in self._servicers)]:
            await self.health.set(name, status)

    async def start(self) -> None:
        await self.set_serving(False)
        await self.server.start()
        log.info("gRPC listening on %s:%d", self._opts.host, self.port)

    async def stop(self) -> None:
        """NOT_SERVING first, so load balancers move away; then refuse new calls and drain the rest."""
        await self.set_serving(False)
        if self._opts.drain_delay:
            await asyncio.sleep(self._opts.drain_delay)
        await self.server.stop(self._opts.grace)


def stop_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_until_stopped(
    server: GrpcServer | Sequence[GrpcServer],
    ready: Callable[[], Awaitable[None]],
    background: Sequence[Callable[[asyncio.Event], Awaitable[None]]],
    stop: asyncio.Event,
) -> None:
    """Start serving (NOT_SERVING), run `ready` (open the database...), turn SERVING, run the background
    loops (relay, consumers) until a stop signal, then stop gracefully: every server NOT_SERVING and
    draining at once, then the background loops."""
    servers = [server] if isinstance(server, GrpcServer) else list(server)
    for s in servers:
        await s.start()
    await ready()
    for s in servers:
        await s.set_serving(True)
    log.info("serving")
    tasks = [asyncio.create_task(loop(stop)) for loop in background]
    await stop.wait()
    log.info("stopping")
    await asyncio.gather(*(s.stop() for s in servers))
    if tasks:
        await asyncio.wait(tasks, timeout=max(s.grace for s in servers))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("background task ended with an error", exc_info=task.exception())
