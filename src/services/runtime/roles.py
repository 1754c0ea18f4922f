"""Process roles shared by every service: open the database (retrying while it is down), make sure the
topics exist (retrying while Kafka is down), run the outbox relay in-process or alone, and serve the
Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence

from confluent_kafka import Consumer, Producer
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from adapters.common.logging import configure_logging
from adapters.common.metrics import MetricsServer
from adapters.common.tracing import configure_tracing
from adapters.inbound.grpc.server import Servicer, stop_signal
from adapters.inbound.kafka.runner import KafkaConsumerRunner, Route, consumer_config, dlq_topic
from adapters.inbound.rest.server import RestServer, rest_app
from adapters.inbound.rest.transcoding import rpc_routes
from adapters.outbound.kafka.relay import KafkaOutboxRelay, producer_config
from adapters.outbound.kafka.security import principal
from adapters.outbound.kafka.topics import ensure_topics
from adapters.outbound.sqlalchemy import migrate
from domain.shared.ports import UnitOfWork
from services.runtime.settings import CommonSettings

log = logging.getLogger(__name__)


async def retry_until_done(what: str, action: Callable[[], Awaitable[None]], stop: asyncio.Event | None = None) -> None:
    """Keep trying `action` with jittered backoff (capped at 5 s) until it succeeds or `stop` is set: a
    dependency that is down at start-up delays readiness instead of crashing the process."""
    delay = 0.2
    while True:
        try:
            await action()
            return
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"
            log.warning("%s failed (%s); retrying", what, type(exc).__name__)
        if stop is not None and stop.is_set():
            return
        await asyncio.sleep(random.uniform(0, delay))
        delay = min(delay * 2, 5.0)


def observe_process(settings: CommonSettings, metrics_port: int, name: str | None = None) -> MetricsServer:
    """What every process sets up first: JSON logs, traces (exported if an OTLP endpoint is set) and its
    metrics port. `name` is the process's name in logs and traces (the service's, or `<service>-relay`...)."""
    name = name or settings.service
    configure_logging(name, settings.log_level)
    configure_tracing(name, export=bool(settings.otlp_endpoint))
    return serve_metrics(settings.metrics_host, metrics_port)


def serve_metrics(host: str, port: int) -> MetricsServer:
    """`GET /metrics` on host:port from now on (port 0: none). Close it when the process stops."""
    server = MetricsServer(host, port)
    if server.enabled:
        log.info("metrics on http://%s:%d/metrics", host, port)
    return server


async def open_database(engine: AsyncEngine, metadata: MetaData) -> None:
    """Bring the service's database to its newest schema (its Alembic migrations, named by
    `metadata.info["service"]`), retrying while the database is down. Idempotent, and safe when replicas
    start together: see adapters/outbound/sqlalchemy/migrate.py."""
    await retry_until_done(
        "migrating the database", lambda: migrate.upgrade(engine, metadata.info["service"], metadata)
    )


async def run_relay_alone(
    settings: CommonSettings, engine: AsyncEngine, metadata: MetaData, relay: KafkaOutboxRelay
) -> None:
    """`python -m services.<name> relay`: the outbox relay as its own process, until SIGTERM."""
    metrics = observe_process(settings, settings.relay_metrics_port, f"{settings.service}-relay")
    await open_database(engine, metadata)
    await relay_loop(settings, relay)(stop_signal())
    await engine.dispose()
    metrics.close()


def rest_loop(
    settings: CommonSettings, servicers: Sequence[Servicer], extra: Sequence[BaseRoute] = ()
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The servicers' REST/JSON routes (and `extra` ones) on the service's REST port, until stopped."""
    return RestServer(rest_app([*extra, *rpc_routes(servicers)]), settings.grpc_host, settings.rest_port).run


def relay_loop(settings: CommonSettings, relay: KafkaOutboxRelay) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stop: asyncio.Event) -> None:
        if settings.create_topics:
            # only the topic it writes: the relay's principal may create nothing else
            own = [settings.topic(t) for t in principal(settings.kafka_relay_principal).writes]
            await retry_until_done(
                "creating topics",
                lambda: asyncio.to_thread(
                    ensure_topics,
                    settings.kafka_bootstrap_servers,
                    own,
                    replication_factor=settings.topic_replication_factor,
                    timeout=10,
                    security=settings.kafka_client(settings.kafka_relay_principal),
                ),
                stop,
            )
        await relay.run(stop)

    return run


def consumer_loop(
    settings: CommonSettings,
    group_id: str,
    topics: list[str],
    routes: Mapping[str, Route],
    uow: Callable[[], UnitOfWork],
    on_caught_up: Callable[[], Awaitable[None]] | None = None,
    projection: str | None = None,
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """A consumer runner for this service's group, with its DLQ topics made sure of first. `projection`
    names the read model it feeds, for bank_projection_lag_seconds."""

    topics = [settings.topic(t) for t in topics]
    security = settings.kafka_client(settings.kafka_consumer_principal)

    async def run(stop: asyncio.Event) -> None:
        if settings.create_topics:
            # Its principal may create only its own dead-letter topics: the topics it consumes are their
            # producers' (or the provisioning's) to create; while one is missing this is refused and retries.
            dlqs = [dlq_topic(t, group_id) for t in topics]
            await retry_until_done(
                "creating topics",
                lambda: asyncio.to_thread(
                    ensure_topics,
                    settings.kafka_bootstrap_servers,
                    [*topics, *dlqs],
                    replication_factor=settings.topic_replication_factor,
                    timeout=10,
                    security=security,
                ),
                stop,
            )
        overrides: dict[str, object] = {
            # A crashed member's partitions move on after this, not after librdkafka's 45 s default.
            "session.timeout.ms": settings.consumer_session_timeout_ms,
            "heartbeat.interval.ms": max(500, settings.consumer_session_timeout_ms // 3),
        }
        if settings.consumer_instance_id:  # static membership: a restart takes its partitions back at once
            overrides["group.instance.id"] = settings.consumer_instance_id
        runner = KafkaConsumerRunner(
            Consumer(consumer_config(settings.kafka_bootstrap_servers, group_id, security, **overrides)),
            Producer(producer_config(settings.kafka_bootstrap_servers, security)),
            group_id,
            topics,
            routes,
            uow,
            on_caught_up=on_caught_up,
            projection=projection,
        )
        await runner.run(stop)

    return run
