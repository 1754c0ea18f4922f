"""Process roles shared by every service: open the database (retrying while it is down), make sure the
topics exist (retrying while Kafka is down), and run the outbox relay in-process or alone."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.outbound.kafka.relay import KafkaOutboxRelay
from adapters.outbound.kafka.topics import EVENT_TOPICS, ensure_topics
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


async def open_database(engine: AsyncEngine, metadata: MetaData) -> None:
    async def create() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    await retry_until_done("opening the database", create)


def relay_loop(settings: CommonSettings, relay: KafkaOutboxRelay) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stop: asyncio.Event) -> None:
        if settings.create_topics:
            await retry_until_done(
                "creating topics",
                lambda: asyncio.to_thread(
                    ensure_topics,
                    settings.kafka_bootstrap_servers,
                    EVENT_TOPICS,
                    replication_factor=settings.topic_replication_factor,
                    timeout=10,
                ),
                stop,
            )
        await relay.run(stop)

    return run
