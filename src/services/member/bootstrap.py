"""Wiring of the member service: gRPC (MemberService), REST (the same API), the keys listener (JWKS and discovery
only, for token verifiers: no Login there), the consumer of customer
events (the customer-status replica), and the outbox relay. EnrollMember and UnlockMember are operators':
their check is configured by services/runtime/operators.py (OPERATOR_JWKS_FILE); a member's own access
token, recognized with this service's keys, is PERMISSION_DENIED there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.common.metrics import watch_password_hasher
from adapters.inbound.grpc.member import member_servicer
from adapters.inbound.grpc.metadata import ClientAddress
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.ops import outbox_servicer
from adapters.inbound.grpc.server import GrpcServer, ServerOptions, run_until_stopped, stop_signal
from adapters.inbound.kafka.customer_events import TOPIC as CUSTOMER_TOPIC
from adapters.inbound.kafka.customer_events import customer_status_routes
from adapters.inbound.rest.keys import JWKS_PATH, key_routes
from adapters.inbound.rest.server import RestServer, rest_app
from adapters.outbound.events.member import member_events as events
from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory, replicas_channel
from adapters.outbound.kafka.relay import KafkaOutboxRelay, producer_config
from adapters.outbound.metrics import member_events
from adapters.outbound.security import service_tls as service_tls_names
from adapters.outbound.security.argon2_hasher import CHEAP, OWASP, Argon2PasswordHasher
from adapters.outbound.security.common_passwords import CommonPasswordList
from adapters.outbound.security.jwt_tokens import JwtTokenService
from adapters.outbound.security.signing_keys import SigningKeys, load_or_create_signing_keys, openid_configuration
from adapters.outbound.security.throttle import TokenBucketThrottle
from adapters.outbound.sqlalchemy import member as tables
from adapters.outbound.sqlalchemy.engine import create_engine, create_reader, dispose
from adapters.outbound.sqlalchemy.member import SqlAlchemyMemberUnitOfWork
from adapters.outbound.sqlalchemy.outbox import SqlOutboxMonitor
from adapters.outbound.sqlalchemy.uow import Storage
from domain.member.commands import RecordCustomerStatus
from domain.member.handlers import MemberApplication, Throttles
from domain.shared.clock import Clock, SystemClock
from services.member.settings import MemberSettings
from services.runtime.operators import OperatorSettings, operator_verifier
from services.runtime.roles import (
    consumer_loop,
    observe_process,
    open_database,
    relay_loop,
    rest_loop,
    run_relay_alone,
)
from services.runtime.service_tls import service_tls


@dataclass
class MemberService:
    settings: MemberSettings
    storage: Storage
    reader: AsyncEngine | Engine
    app: MemberApplication
    relay: KafkaOutboxRelay
    keys: SigningKeys
    hasher: Argon2PasswordHasher
    accounts: GrpcAccountsDirectory
    tokens: JwtTokenService
    clock: Clock


def bootstrap(config: MemberSettings, *, clock: Clock | None = None) -> MemberService:
    clock = clock or SystemClock()
    common = config.common
    engine = create_engine(common.database_url)
    reader = create_reader(common.database_url)  # login's first read takes no write lock
    relay = KafkaOutboxRelay(
        engine,
        tables.outbox,
        Producer(producer_config(common.kafka_bootstrap_servers, common.kafka_client(common.kafka_relay_principal))),
        clock,
    )
    wake = relay.notify if common.outbox_relay == "inprocess" else (lambda: None)
    member_events.initialize()
    storage = Storage(
        engine,
        tables.outbox,
        tables.inbox,
        events.with_topic_prefix(common.topic_prefix),
        clock,
        on_commit=wake,
        on_events=member_events.count_member_events,
    )
    keys = load_or_create_signing_keys(Path(config.jwt_keys_dir))
    hasher = Argon2PasswordHasher(
        CHEAP if config.hash_profile == "cheap" else OWASP, workers=config.hash_workers, queue_size=config.hash_queue
    )
    watch_password_hasher(lambda: hasher.admitted, hasher.workers + hasher.queue_size)
    accounts = GrpcAccountsDirectory(
        # mutual TLS: my_accounts answers the snapshot only to the member service's certificate
        replicas_channel(
            config.my_accounts_addr,
            service_tls(service_tls_names.MEMBER).channel_credentials(),
            server_name=service_tls_names.MY_ACCOUNTS,
        ),
        deadline_seconds=config.snapshot_deadline_seconds,
        breaker_threshold=config.breaker_threshold,
        breaker_ttl_seconds=config.breaker_ttl_seconds,
    )
    tokens = JwtTokenService(
        keys, issuer=config.jwt_issuer, audience=config.jwt_audience, lifetime_seconds=config.access_token_seconds
    )
    app = MemberApplication(
        lambda: SqlAlchemyMemberUnitOfWork(storage),
        tables.SqlMemberLookup(reader),
        hasher,
        tokens,
        Throttles(
            per_source=TokenBucketThrottle(config.throttle_source_capacity, config.throttle_source_per_second),
            per_banking_id=TokenBucketThrottle(config.throttle_id_capacity, config.throttle_id_per_second),
        ),
        accounts,
        CommonPasswordList(),
        clock,
        config.lockout,
    )
    return MemberService(config, storage, reader, app, relay, keys, hasher, accounts, tokens, clock)


async def serve(config: MemberSettings) -> None:
    common = config.common
    metrics = observe_process(common, common.metrics_port)
    service = bootstrap(config)
    guard = OperatorGuard(operator_verifier(OperatorSettings.from_env()), service.clock, service.tokens.verifier)
    servicers = [member_servicer(service.app, guard, ClientAddress(config.trusted_proxies))]
    ops = outbox_servicer(SqlOutboxMonitor(service.storage.engine, tables.outbox), guard)
    grpc_server = GrpcServer(
        [*servicers, ops],
        ServerOptions(common.grpc_host, common.grpc_port, common.grace_seconds, common.drain_delay_seconds),
    )
    jwks_uri = f"http://{common.grpc_host}:{config.keys_port}{JWKS_PATH}"
    keys = key_routes(service.keys.jwks, openid_configuration(config.jwt_issuer, jwks_uri))
    keys_server = RestServer(rest_app(keys), common.grpc_host, config.keys_port)

    async def apply_status(customer_id: str, status: str, version: int, tx: SqlAlchemyMemberUnitOfWork) -> None:
        await service.app.record_customer_status(RecordCustomerStatus(customer_id, status, version), tx)

    background = [
        rest_loop(common, servicers),
        keys_server.run,
        consumer_loop(
            common,
            common.consumer_group_id,
            [CUSTOMER_TOPIC],
            customer_status_routes(apply_status),
            lambda: SqlAlchemyMemberUnitOfWork(service.storage),
        ),
    ]
    if common.outbox_relay == "inprocess":
        background.append(relay_loop(common, service.relay))
    await run_until_stopped(
        grpc_server, lambda: open_database(service.storage.engine, tables.metadata), background, stop_signal()
    )
    service.hasher.close()
    await service.storage.engine.dispose()
    await dispose(service.reader)
    metrics.close()


async def relay(config: MemberSettings) -> None:
    service = bootstrap(config)
    await run_relay_alone(config.common, service.storage.engine, tables.metadata, service.relay)
