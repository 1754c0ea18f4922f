"""Wiring of the my_accounts service: the public MyAccountsService, the internal AccountsSnapshotService on
its own port, and the projector (a consumer of customer, member and account events) in-process or alone.
The view lives in SQL (the default) or in Redis, chosen by the view's URL (settings.view_url)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import make_url

from adapters.inbound.grpc.my_accounts import (
    ADMIN_SERVICE,
    INTERNAL_SERVICE,
    accounts_snapshot_servicer,
    my_accounts_servicer,
    view_admin_servicer,
)
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.inbound.kafka.my_accounts import TOPICS, projection_routes
from adapters.outbound.redis.my_accounts import RedisView
from adapters.outbound.security import service_tls as service_tls_names
from adapters.outbound.security.remote_jwks import RemoteJwksVerifier
from adapters.outbound.sqlalchemy import my_accounts as tables
from adapters.outbound.sqlalchemy.engine import create_engine, create_reader
from adapters.outbound.sqlalchemy.uow import Storage
from adapters.outbound.sqlite.my_accounts import SqliteViewReader
from domain.my_accounts.handlers import MyAccountsQueries, Projector
from domain.my_accounts.ports import ProjectionUnitOfWork, ViewReader
from domain.shared.clock import Clock, SystemClock
from services.my_accounts.settings import MyAccountsSettings
from services.runtime.operators import OperatorSettings, operator_verifier
from services.runtime.roles import consumer_loop, observe_process, open_database, rest_loop, retry_until_done
from services.runtime.service_tls import service_tls


@dataclass(frozen=True)
class ViewStore:
    """Where the view lives: what the projector writes through, what queries read, and its lifecycle."""

    kind: str  # "sql" or "redis"
    reader: ViewReader
    unit_of_work: Callable[[], ProjectionUnitOfWork]
    mark_caught_up: Callable[[datetime], Awaitable[None]]
    open: Callable[[], Awaitable[None]]  # until it works: create the tables, or see the server answer
    close: Callable[[], Awaitable[None]]


def sql_store(url: str, clock: Clock) -> ViewStore:
    storage = Storage(create_engine(url), None, tables.inbox, None, clock)
    # Queries never wait for the projector's transaction: their own connection (SQLite: its own driver).
    parsed = make_url(url)
    reader = (
        SqliteViewReader(parsed.database or ":memory:")
        if parsed.get_backend_name() == "sqlite"
        else tables.SqlViewReader(create_reader(url))
    )

    async def close() -> None:
        await storage.engine.dispose()
        await reader.close()

    return ViewStore(
        "sql",
        reader,
        lambda: tables.SqlAlchemyProjectionUnitOfWork(storage),
        lambda at: tables.mark_caught_up(storage.engine, at),
        lambda: open_database(storage.engine, tables.metadata),
        close,
    )


def redis_store(config: MyAccountsSettings, clock: Clock) -> ViewStore:
    view = RedisView.from_url(config.view_url, config.redis_prefix, clock, config.redis_inbox_ttl)
    return ViewStore(
        "redis",
        view.reader,
        view.unit_of_work,
        view.mark_caught_up,
        lambda: retry_until_done("reaching the view's Redis", view.ping),
        view.close,
    )


def view_store(config: MyAccountsSettings, clock: Clock) -> ViewStore:
    return redis_store(config, clock) if config.view_on_redis else sql_store(config.view_url, clock)


@dataclass
class MyAccountsService:
    settings: MyAccountsSettings
    store: ViewStore
    queries: MyAccountsQueries
    tokens: RemoteJwksVerifier
    clock: Clock


def bootstrap(config: MyAccountsSettings, *, clock: Clock | None = None) -> MyAccountsService:
    clock = clock or SystemClock()
    store = view_store(config, clock)
    tokens = RemoteJwksVerifier(config.jwks_url, issuer=config.jwt_issuer, audience=config.jwt_audience)
    queries = MyAccountsQueries(store.reader, tokens, clock, config.stale_after)
    return MyAccountsService(config, store, queries, tokens, clock)


def projector_loop(service: MyAccountsService) -> Callable[[asyncio.Event], Awaitable[None]]:
    store = service.store

    async def caught_up() -> None:
        await store.mark_caught_up(service.clock.now())

    return consumer_loop(
        service.settings.common,
        service.settings.common.consumer_group_id,
        TOPICS,
        projection_routes(Projector()),
        store.unit_of_work,
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
    # The internal port takes only mutual TLS: the snapshot for the member service, the view admin for the
    # operator's CLI (which also needs an operator token), identified by their certificates.
    tls = service_tls(service_tls_names.MY_ACCOUNTS)
    internal = GrpcServer(
        [accounts_snapshot_servicer(service.queries), view_admin_servicer(service.queries, guard)],
        ServerOptions(
            common.grpc_host,
            config.internal_port,
            common.grace_seconds,
            common.drain_delay_seconds,
            credentials=tls.server_credentials(),
            allowed_callers={
                INTERNAL_SERVICE: frozenset({service_tls_names.MEMBER}),
                ADMIN_SERVICE: frozenset({service_tls_names.OPERATOR}),
            },
        ),
    )

    async def ready() -> None:
        await service.store.open()
        await retry_until_done("fetching the member service's JWKS", service.tokens.load)

    background = [service.tokens.run, rest_loop(common, servicers)]
    if config.projector == "inprocess":
        background.append(projector_loop(service))
    await run_until_stopped([public, internal], ready, background, stop_signal())
    await service.store.close()
    metrics.close()


async def project(config: MyAccountsSettings) -> None:
    """The projector alone (so it can be scaled, killed and restarted apart from the API)."""
    metrics = observe_process(config.common, config.projector_metrics_port, f"{config.common.service}-projector")
    service = bootstrap(config)
    await service.store.open()
    await projector_loop(service)(stop_signal())
    await service.store.close()
    metrics.close()
