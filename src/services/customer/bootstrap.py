"""Wiring of the customer service. Every dependency can be overridden (tests pass fakes or in-memory ones)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Producer

from adapters.common.logging import configure_logging
from adapters.inbound.grpc.customer import customer_servicer
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.outbound.events.customer import customer_events
from adapters.outbound.kafka.relay import KafkaOutboxRelay, producer_config
from adapters.outbound.sqlalchemy import customer as tables
from adapters.outbound.sqlalchemy.customer import SqlAlchemyCustomerUnitOfWork
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.uow import Storage
from domain.customer.handlers import CustomerApplication
from domain.shared.clock import Clock, SystemClock
from services.runtime.roles import open_database, relay_loop
from services.runtime.settings import CommonSettings

DEFAULT_PORT = 50051


def settings() -> CommonSettings:
    return CommonSettings.from_env("customer", DEFAULT_PORT)


@dataclass
class CustomerService:
    settings: CommonSettings
    storage: Storage
    app: CustomerApplication
    relay: KafkaOutboxRelay


def bootstrap(config: CommonSettings, *, clock: Clock | None = None) -> CustomerService:
    clock = clock or SystemClock()
    engine = create_engine(config.database_url)
    producer = Producer(producer_config(config.kafka_bootstrap_servers))
    relay = KafkaOutboxRelay(engine, tables.outbox, producer, clock)
    wake = relay.notify if config.outbox_relay == "inprocess" else (lambda: None)
    storage = Storage(engine, tables.outbox, tables.inbox, customer_events, clock, on_commit=wake)
    app = CustomerApplication(lambda: SqlAlchemyCustomerUnitOfWork(storage), clock)
    return CustomerService(config, storage, app, relay)


async def serve(config: CommonSettings) -> None:
    configure_logging(config.service, config.log_level)
    service = bootstrap(config)
    server = GrpcServer(
        [customer_servicer(service.app)],
        ServerOptions(config.grpc_host, config.grpc_port, config.grace_seconds, config.drain_delay_seconds),
    )
    background = [relay_loop(config, service.relay)] if config.outbox_relay == "inprocess" else []
    await run_until_stopped(
        server, lambda: open_database(service.storage.engine, tables.metadata), background, stop_signal()
    )
    await service.storage.engine.dispose()


async def relay(config: CommonSettings) -> None:
    configure_logging(f"{config.service}-relay", config.log_level)
    service = bootstrap(config)
    await open_database(service.storage.engine, tables.metadata)
    await relay_loop(config, service.relay)(stop_signal())
    await service.storage.engine.dispose()
