"""Wiring of the my_accounts service: the public MyAccountsService, the internal AccountsSnapshotService on
its own port, and the projector (a consumer of customer, member and account events) in-process or alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.inbound.grpc.my_accounts import accounts_snapshot_servicer, my_accounts_servicer, view_admin_servicer
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.inbound.kafka.my_accounts import TOPICS, projection_routes
from adapters.outbound.security.remote_jwks import RemoteJwksVerifier
from adapters.outbound.sqlalchemy import my_accounts as tables
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.uow import Storage
from domain.my_accounts.handlers import MyAccountsQueries, Projector
from domain.shared.clock import Clock, SystemClock
from services.my_accounts.settings import MyAccountsSettings
from services.runtime.operators import OperatorSettings, operator_verifier
from services.runtime.roles import consumer_loop, observe_process, open_database, rest_loop, retry_until_done


@dataclass
class MyAccountsService:
    settings: MyAccountsSettings
    storage: Storage
    reader_engine: AsyncEngine
    queries: MyAccountsQueries
    tokens: RemoteJwksVerifier
    clock: Clock


def bootstrap(config: MyAccountsSettings, *, clock: Clock | None = None) -> MyAccountsService:
    clock = clock or SystemClock()
    common = config.common
    storage = Storage(create_engine(common.database_url), None, tables.inbox, None, clock)
    reader = create_engine(common.database_url, writer=False)
    tokens = RemoteJwksVerifier(config.jwks_url, issuer=config.jwt_issuer, audience=config.jwt_audience)
    queries = MyAccountsQueries(tables.SqlViewReader(reader), tokens, clock, config.stale_after)
    return MyAccountsService(config, storage, reader, queries, tokens, clock)


def projector_loop(service: MyAccountsService) -> Callable[[asyncio.Event], Awaitable[None]]:
    storage = service.storage

    async def caught_up() -> None:
        await tables.mark_caught_up(storage.engine, service.clock.now())

    return consumer_loop(
        service.settings.common,
        service.settings.common.consumer_group_id,
        TOPICS,
        projection_routes(Projector()),
        lambda: tables.SqlAlchemyProjectionUnitOfWork(storage),
        on_caught_up=caught_up,
        projection=tables.PROJECTION,
    )


async def serve(config: MyAccountsSettings) -> None:
    common = config.common
    metrics = observe_process(common, common.metrics_port)
    service = bootstrap(config)
    options = ServerOptions(common.grpc_host, common.grpc_port, common.grace_seconds, common.drain_delay_seconds)
    guard = OperatorGuard(operator_verifier(OperatorSettings.from_env()), SystemClock(), service.tokens)
    servicers = [my_accounts_servicer(service.queries)]  # the internal snapshot service has no REST binding
    public = GrpcServer(servicers, options)
    internal = GrpcServer(
        [accounts_snapshot_servicer(service.queries), view_admin_servicer(service.queries, guard)],
        ServerOptions(common.grpc_host, config.internal_port, common.grace_seconds, common.drain_delay_seconds),
    )

    async def ready() -> None:
        await open_database(service.storage.engine, tables.metadata)
        await retry_until_done("fetching the member service's JWKS", service.tokens.load)

    background = [service.tokens.run, rest_loop(common, servicers)]
    if config.projector == "inprocess":
        background.append(projector_loop(service))
    await run_until_stopped([public, internal], ready, background, stop_signal())
    await service.storage.engine.dispose()
    await service.reader_engine.dispose()
    metrics.close()


async def project(config: MyAccountsSettings) -> None:
    """The projector alone (so it can be scaled, killed and restarted apart from the API)."""
    metrics = observe_process(config.common, config.projector_metrics_port, f"{config.common.service}-projector")
    service = bootstrap(config)
    await open_database(service.storage.engine, tables.metadata)
    await projector_loop(service)(stop_signal())
    await service.storage.engine.dispose()
    metrics.close()
