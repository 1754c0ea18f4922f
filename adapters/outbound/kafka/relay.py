"""The outbox relay: publishes committed events from a service's outbox table to Kafka, in order, and marks
a row sent only after the broker acknowledged it (acks=all, idempotent producer). A crash between the
acknowledgement and the mark publishes the row again on restart: consumers skip such duplicates by event id.

It runs in the service's process (woken at once by each commit) or alone (`python -m services.X relay`),
polling the table. Every `sample_interval` seconds it also counts the unsent rows and the age of the oldest
one (`bank_outbox_unsent_events`, `bank_outbox_oldest_unsent_age_seconds`): a backlog that grows means the
broker is away or the relay is stuck."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from adapters.common.intervals import Every
from adapters.common.metrics import OUTBOX_OLDEST_AGE, OUTBOX_UNSENT
from adapters.outbound.sqlalchemy.engine import begin_write
from domain.shared.clock import Clock

log = logging.getLogger(__name__)


def producer_config(
    bootstrap_servers: str, security: Mapping[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """librdkafka's defaults lose or reorder data: idempotence is off and acks is not all. Set both.
    `security`: how the producer authenticates (adapters.outbound.kafka.security.client_config)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        **(security or {}),
        "enable.idempotence": True,
        "acks": "all",
        # Publish almost at once: the relay already batches what accumulated in the outbox.
        "linger.ms": 1,
        "message.timeout.ms": 30_000,
        "socket.keepalive.enable": True,
        **overrides,
    }


class PublishIncomplete(Exception):
    """Some rows of a batch were not acknowledged; they stay unsent and are tried again."""


class KafkaOutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        producer: Producer,
        clock: Clock,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        flush_timeout: float = 10.0,
        sample_interval: float = 5.0,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._producer = producer
        self._clock = clock
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._flush_timeout = flush_timeout
        self._wake = asyncio.Event()
        self._sampling = Every(sample_interval)

    def notify(self) -> None:
        """Called after a commit that wrote events: publish now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                published = await self._publish_with_retries()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                published = 0
            await self._sample_backlog()
            if published < self._batch_size:  # drained: sleep until a commit or the next poll
                self._wake.clear()
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        await asyncio.to_thread(self._producer.flush, self._flush_timeout)

    async def _sample_backlog(self) -> None:
        """Export the backlog, at most every `sample_interval` (one indexed query)."""
        if not self._sampling.due():
            return
        try:
            unsent, oldest = await self.backlog()
        except Exception as exc:  # noqa: BLE001 - a metric must not stop the relay; the pass logs real faults
            log.debug("sampling the outbox backlog failed: %s", type(exc).__name__)
            return
        OUTBOX_UNSENT.set(unsent)
        OUTBOX_OLDEST_AGE.set(0 if oldest is None else max(0.0, (self._clock.now() - oldest).total_seconds()))

    async def backlog(self) -> tuple[int, Any]:
        """Unsent rows and the creation time of the oldest (None if there is none)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.min(self._outbox.c.created_at)).where(self._outbox.c.sent_at.is_(None))
                )
            ).one()
        return int(row[0]), row[1]

    async def _publish_with_retries(self) -> int:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(PublishIncomplete),
                stop=stop_after_attempt(5),
                wait=wait_random_exponential(multiplier=0.1, max=5),
                reraise=False,
            ):
                with attempt:
                    return await self.publish_pending()
        except RetryError:
            log.warning("outbox relay: broker did not acknowledge a batch after 5 attempts; will keep trying")
        return 0

    async def publish_pending(self) -> int:
        """One pass: publish up to a batch of unsent rows; return how many were acknowledged.

        On PostgreSQL several replicas share one outbox: a pass runs only while holding a session advisory
        lock, so one relay at a time publishes (in order); the others find it taken and skip their pass."""
        if self._engine.dialect.name != "postgresql":
            return await self._publish_pending()
        async with self._engine.connect() as conn:
            lock = await conn.execution_options(isolation_level="AUTOCOMMIT")  # no transaction left open
            key = func.hashtext(f"outbox-relay:{self._outbox.name}")
            if not (await lock.execute(select(func.pg_try_advisory_lock(key)))).scalar():
                return 0
            try:
                return await self._publish_pending()
            finally:
                await lock.execute(select(func.pg_advisory_unlock(key)))

    async def _publish_pending(self) -> int:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(self._outbox)
                    .where(self._outbox.c.sent_at.is_(None))
                    .order_by(self._outbox.c.position)
                    .limit(self._batch_size)
                )
            ).all()
        if not rows:
            return 0
        delivered: list[int] = []
        failed: list[int] = []

        def on_delivery(position: int) -> Any:
            def callback(err: KafkaError | None, _msg: Message) -> None:
                (failed if err is not None else delivered).append(position)

            return callback

        for row in rows:
            self._produce(row, on_delivery(row.position))
        remaining = await asyncio.to_thread(self._producer.flush, self._flush_timeout)
        if delivered:
            async with begin_write(self._engine) as conn:
                await conn.execute(
                    update(self._outbox).where(self._outbox.c.position.in_(delivered)).values(sent_at=self._clock.now())
                )
        if failed or remaining:
            raise PublishIncomplete(f"{len(failed) + remaining} of {len(rows)} not acknowledged")
        return len(delivered)

    def _produce(self, row: Any, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(
                    row.topic,
                    key=row.message_key.encode(),
                    value=row.payload,
                    headers=list(json.loads(row.headers).items()),
                    on_delivery=callback,
                )
                return
            except BufferError:  # local queue full: let deliveries drain, then go on
                self._producer.poll(0.1)
