"""Wiring of the customer service. Every dependency can be overridden (tests pass fakes or in-memory ones).
Every RPC is an operator's: the operator check is configured by services/runtime/operators.py
(OPERATOR_JWKS_FILE; MEMBER_JWKS_URL, optional, to answer members' tokens PERMISSION_DENIED)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from confluent_kafka import Producer

from adapters.inbound.grpc.customer import customer_servicer
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.ops import outbox_servicer
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.outbound.events.customer import customer_events
from adapters.outbound.kafka.relay import KafkaOutboxRelay, producer_config
from adapters.outbound.security.remote_jwks import RemoteJwksVerifier
from adapters.outbound.sqlalchemy import customer as tables
from adapters.outbound.sqlalchemy.customer import SqlAlchemyCustomerUnitOfWork
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.outbox import SqlOutboxMonitor
from adapters.outbound.sqlalchemy.uow import Storage
from domain.customer.handlers import CustomerApplication
from domain.shared.clock import Clock, SystemClock
from services.runtime.operators import OperatorSettings, operator_verifier
from services.runtime.roles import (
    observe_process,
    open_database,
    relay_loop,
    rest_loop,
    retry_until_done,
    run_relay_alone,
)
from services.runtime.settings import CommonSettings

DEFAULT_PORT = 50051
DEFAULT_REST_PORT = 8051
DEFAULT_METRICS_PORT = 9051


def settings() -> CommonSettings:
    return CommonSettings.from_env("customer", DEFAULT_PORT, DEFAULT_REST_PORT, DEFAULT_METRICS_PORT)


@dataclass
class CustomerService:
    settings: CommonSettings
    storage: Storage
    app: CustomerApplication
    relay: KafkaOutboxRelay


def bootstrap(config: CommonSettings, *, clock: Clock | None = None) -> CustomerService:
    clock = clock or SystemClock()
    engine = create_engine(config.database_url)
    producer = Producer(
        producer_config(config.kafka_bootstrap_servers, config.kafka_client(config.kafka_relay_principal))
    )
    relay = KafkaOutboxRelay(engine, tables.outbox, producer, clock)
    wake = relay.notify if config.outbox_relay == "inprocess" else (lambda: None)
    storage = Storage(
        engine,
        tables.outbox,
        tables.inbox,
        customer_events.with_topic_prefix(config.topic_prefix),
        clock,
        on_commit=wake,
    )
    app = CustomerApplication(lambda: SqlAlchemyCustomerUnitOfWork(storage), clock)
    return CustomerService(config, storage, app, relay)


def member_keys_loop(members: RemoteJwksVerifier) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The member service's keys, fetched in the background: the customer service does not wait for the
    member service to be SERVING (until the keys arrive, a member's token is UNAUTHENTICATED, not
    PERMISSION_DENIED: refused either way)."""

    async def run(stop: asyncio.Event) -> None:
        await retry_until_done("fetching the member service's JWKS", members.load, stop)
        await members.run(stop)

    return run


async def serve(config: CommonSettings) -> None:
    metrics = observe_process(config, config.metrics_port)
    service = bootstrap(config)
    operators = OperatorSettings.from_env()
    members = (
        RemoteJwksVerifier(
            operators.member_jwks_url, issuer=operators.member_issuer, audience=operators.member_audience
        )
        if operators.member_jwks_url
        else None
    )
    guard = OperatorGuard(operator_verifier(operators), SystemClock(), members)
    servicers = [customer_servicer(service.app, guard)]
    ops = outbox_servicer(SqlOutboxMonitor(service.storage.engine, tables.outbox), guard)
    server = GrpcServer(
        [*servicers, ops],
        ServerOptions(config.grpc_host, config.grpc_port, config.grace_seconds, config.drain_delay_seconds),
    )
    background = [rest_loop(config, servicers)]
    if config.outbox_relay == "inprocess":
        background.append(relay_loop(config, service.relay))
    if members is not None:
        background.append(member_keys_loop(members))
    await run_until_stopped(
        server, lambda: open_database(service.storage.engine, tables.metadata), background, stop_signal()
    )
    await service.storage.engine.dispose()
    metrics.close()


async def relay(config: CommonSettings) -> None:
    service = bootstrap(config)
    await run_relay_alone(config, service.storage.engine, tables.metadata, service.relay)
