"""Wiring of the account service: gRPC (AccountService), token verification with the member service's
published keys (fetched before the service turns SERVING, refreshed in the background), the consumer of
customer events (the customer-status replica), and the outbox relay."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Producer

from adapters.inbound.grpc.account import account_servicer
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.ops import outbox_servicer
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.inbound.kafka.customer_events import TOPIC as CUSTOMER_TOPIC
from adapters.inbound.kafka.customer_events import customer_status_routes
from adapters.outbound.events.account import account_events
from adapters.outbound.kafka.relay import KafkaOutboxRelay, producer_config
from adapters.outbound.security.remote_jwks import RemoteJwksVerifier
from adapters.outbound.sqlalchemy import account as tables
from adapters.outbound.sqlalchemy.account import SqlAlchemyAccountUnitOfWork
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.outbox import SqlOutboxMonitor
from adapters.outbound.sqlalchemy.uow import Storage
from domain.account.commands import RecordCustomerStatus
from domain.account.handlers import AccountApplication
from domain.shared.clock import Clock, SystemClock
from services.account.settings import AccountSettings
from services.runtime.operators import OperatorSettings, operator_verifier
from services.runtime.roles import (
    consumer_loop,
    observe_process,
    open_database,
    relay_loop,
    rest_loop,
    retry_until_done,
    run_relay_alone,
)


@dataclass
class AccountService:
    settings: AccountSettings
    storage: Storage
    app: AccountApplication
    relay: KafkaOutboxRelay
    verifier: RemoteJwksVerifier


def bootstrap(
    config: AccountSettings, *, clock: Clock | None = None, verifier: RemoteJwksVerifier | None = None
) -> AccountService:
    clock = clock or SystemClock()
    common = config.common
    engine = create_engine(common.database_url)
    relay = KafkaOutboxRelay(
        engine,
        tables.outbox,
        Producer(producer_config(common.kafka_bootstrap_servers, common.kafka_client(common.kafka_relay_principal))),
        clock,
    )
    wake = relay.notify if common.outbox_relay == "inprocess" else (lambda: None)
    storage = Storage(
        engine,
        tables.outbox,
        tables.inbox,
        account_events.with_topic_prefix(common.topic_prefix),
        clock,
        on_commit=wake,
    )
    verifier = verifier or RemoteJwksVerifier(
        config.jwks_url,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
        refresh_seconds=config.jwks_refresh_seconds,
    )
    app = AccountApplication(
        lambda: SqlAlchemyAccountUnitOfWork(storage), verifier, clock, max_amount=config.max_amount
    )
    return AccountService(config, storage, app, relay, verifier)


async def serve(config: AccountSettings) -> None:
    common = config.common
    metrics = observe_process(common, common.metrics_port)
    service = bootstrap(config)
    servicers = [account_servicer(service.app)]
    # Operators read the outbox backlog; a member's token there is PERMISSION_DENIED (the JWKS tells it apart).
    guard = OperatorGuard(operator_verifier(OperatorSettings.from_env()), SystemClock(), service.verifier)
    ops = outbox_servicer(SqlOutboxMonitor(service.storage.engine, tables.outbox), guard)
    server = GrpcServer(
        [*servicers, ops],
        ServerOptions(common.grpc_host, common.grpc_port, common.grace_seconds, common.drain_delay_seconds),
    )
    stop = stop_signal()

    async def ready() -> None:
        await open_database(service.storage.engine, tables.metadata)
        # No keys, no callers: stay NOT_SERVING until the member service's JWKS is in hand.
        await retry_until_done("fetching the member service's JWKS", service.verifier.load, stop)

    async def apply_status(customer_id: str, status: str, version: int, tx: SqlAlchemyAccountUnitOfWork) -> None:
        await service.app.record_customer_status(RecordCustomerStatus(customer_id, status, version), tx)

    background = [
        service.verifier.run,
        rest_loop(common, servicers),
        consumer_loop(
            common,
            common.consumer_group_id,
            [CUSTOMER_TOPIC],
            customer_status_routes(apply_status),
            lambda: SqlAlchemyAccountUnitOfWork(service.storage),
        ),
    ]
    if common.outbox_relay == "inprocess":
        background.append(relay_loop(common, service.relay))
    await run_until_stopped(server, ready, background, stop)
    await service.storage.engine.dispose()
    metrics.close()


async def relay(config: AccountSettings) -> None:
    service = bootstrap(config)
    await run_relay_alone(config.common, service.storage.engine, tables.metadata, service.relay)
