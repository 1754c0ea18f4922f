"""The consumer runner every consuming service uses.

For each record: find its handler by the `ce_type` header, then in ONE transaction record the `ce_id` in the
inbox (a duplicate is skipped) and apply the handler; offsets are committed only after that transaction
commits. So a crash anywhere re-delivers, and re-delivery is harmless. Records of types the service does
not handle are skipped (a newer producer may add types). A record that cannot be decoded goes to the DLQ at
once; one whose handler keeps failing goes there after bounded attempts; the stream goes on.
While the service's own database is unavailable nothing is committed and the record is retried: those
records are not poison.

Metrics: the lag of every assigned partition (high watermark minus position) is sampled after each batch,
at most every `caught_up_interval` (or every second); records sent to a DLQ are counted by reason; a
runner given a `projection` name exports how far that read model is behind (0 when caught up, else now
minus the `ce_time` of the last event it applied). Applying a record is a consumer span, child of the
span that committed the event (`ce_traceparent`)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from adapters.common.context import accept_correlation_id, correlation_id
from adapters.common.intervals import Every
from adapters.common.metrics import CONSUMER_LAG, DLQ_MESSAGES, PROJECTION_LAG
from adapters.common.tracing import consumer_span, event_context
from domain.shared.errors import DependencyUnavailable
from domain.shared.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """How to handle one event type: the protobuf class to decode it with, and what to do with it."""

    message_type: type[ProtoMessage]
    handle: Callable[[Any, Any], Awaitable[None]]  # (decoded event, unit of work) -> None


def consumer_config(
    bootstrap_servers: str, group_id: str, security: Mapping[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """librdkafka's defaults commit automatically and start new groups at the end: turn both off.
    `security`: how the consumer authenticates (adapters.outbound.kafka.security.client_config)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        **(security or {}),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        **overrides,
    }


# Why a record goes to the DLQ: the reason codes of its `dlq-reason` header (and of bank_kafka_dlq_messages_total).
DLQ_REASONS = ("missing-or-invalid-ce_id", "undecodable-payload", "handler-failed")


class PoisonMessage(Exception):
    """The record can never be handled (missing headers, undecodable payload, a value its translator refuses,
    raised by a route's handler); `reason` is a code, not text. Dead-lettered at once, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def next_batch(consumer: Consumer, size: int, timeout: float) -> list[Message]:
    """Up to `size` records: waits up to `timeout` for the first one, then takes only those already fetched.
    `consume(size, timeout)` alone waits out the whole timeout unless `size` records arrive, so on a quiet
    topic every event waited for it (one record, consume(500, 1.0): answered after 1,001 ms; here, 0.1 ms).
    Under load the batch still fills from what librdkafka has prefetched."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(size - 1, 0)] if size > 1 else [first]


class KafkaConsumerRunner:
    def __init__(
        self,
        consumer: Consumer,
        dlq_producer: Producer,
        group_id: str,
        topics: list[str],
        routes: Mapping[str, Route],
        uow: Callable[[], UnitOfWork],
        max_attempts: int = 5,
        batch_size: int = 500,
        poll_timeout: float = 0.2,
        backoff_cap: float = 5.0,
        on_caught_up: Callable[[], Awaitable[None]] | None = None,
        caught_up_interval: float = 0.25,
        projection: str | None = None,
    ) -> None:
        self._consumer = consumer
        self._dlq = dlq_producer
        self._group_id = group_id
        self._topics = topics
        self._routes = routes
        self._uow = uow
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout
        self._backoff_cap = backoff_cap
        self._on_caught_up = on_caught_up
        # without a freshness hook, progress (lag) is only sampled for metrics: once a second is plenty
        self._caught_up_check = Every(caught_up_interval if on_caught_up is not None else max(1.0, caught_up_interval))
        self.applied = 0  # events applied (not duplicates), for tests and metrics
        self.dead_lettered = 0
        self.skipped = 0  # events of types this service does not handle
        self.caught_up = False  # every assigned partition consumed up to its high watermark, at the last check
        self.last_event_time: float | None = None  # epoch seconds (ce_time) of the last event applied
        self._lag_labels: set[tuple[str, str, str]] = set()
        for topic in topics:  # every series at 0 from the start, so increase() sees the first dead letter
            for reason in DLQ_REASONS:
                DLQ_MESSAGES.labels(group_id, topic, reason)
        if projection is not None:
            PROJECTION_LAG.labels(projection).set_function(self.projection_lag_seconds)

    def projection_lag_seconds(self) -> float:
        """0 when caught up; else now minus the time of the last applied event (NaN if none was applied yet:
        the consumer lag tells then)."""
        if self.caught_up:
            return 0.0
        if self.last_event_time is None:
            return math.nan
        return max(0.0, time.time() - self.last_event_time)

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer.subscribe(
            self._topics, on_assign=_log_assignment("assigned"), on_revoke=_log_assignment("revoked")
        )
        try:
            while not stop.is_set():
                records = await asyncio.to_thread(next_batch, self._consumer, self._batch_size, self._poll_timeout)
                for record in records:
                    if record.error() is not None:
                        log.warning("consumer error: %s", record.error().name())
                valid = [r for r in records if r.error() is None]
                processed = {(r.topic(), r.partition()): r.offset() + 1 for r in valid}
                careful = await self._apply_batch(valid, stop) if valid else []
                if careful:  # one by one: isolates a failing record (retries, DLQ) and waits out a database outage
                    processed = {}
                    for record in valid:
                        if record not in careful:
                            processed[(record.topic(), record.partition())] = record.offset() + 1
                            continue
                        if not await self._process(record, stop):
                            break  # stopping while the database is down: leave the rest uncommitted
                        processed[(record.topic(), record.partition())] = record.offset() + 1
                if processed:
                    offsets = [TopicPartition(t, p, o) for (t, p), o in processed.items()]
                    await asyncio.to_thread(self._consumer.commit, offsets=offsets, asynchronous=False)
                await self._report_caught_up()
        finally:
            await asyncio.to_thread(self._consumer.close)

    async def _apply_batch(self, records: list[Message], stop: asyncio.Event) -> list[Message]:
        """The fast path: the whole batch in one transaction (one commit instead of one per record); poison
        goes to the DLQ on the way. Returns the records that need the careful path instead (none if all is
        well; all but the dead-lettered ones after a failing handler or a database outage)."""
        decoded: list[tuple[str, Route, Any, dict[str, str], Message]] = []
        dead: list[Message] = []
        for record in records:
            headers = record_headers(record)
            if headers.get("ce_type", "") not in self._routes and headers.get("ce_id"):
                continue  # a type this service does not follow
            try:
                decoded.append((*self._decode(record, headers), headers, record))
            except PoisonMessage as poison:
                if not await self._dead_letter(record, poison.reason, stop):
                    return [r for r in records if r not in dead]  # stopping: the careful path stops too
                dead.append(record)
        applied = 0
        try:
            async with self._uow() as tx:
                for event_id, route, event, headers, record in decoded:
                    correlation_id.set(accept_correlation_id(headers.get("correlation-id")))
                    with consumer_span(record.topic(), record.partition(), event_context(headers)):
                        if await tx.inbox.first_delivery(event_id):
                            await route.handle(event, tx)
                            applied += 1
                await tx.commit()
        except Exception:  # noqa: BLE001 - retried record by record, where each failure is handled properly
            log.info("batch of %d records not applied at once; applying them one by one", len(records))
            return [r for r in records if r not in dead]
        self.applied += applied
        self._note_event_time(*(_event_time(headers) for *_rest, headers, _record in decoded))
        self.skipped += len(records) - len(decoded) - len(dead)
        return []

    def _note_event_time(self, *times: float | None) -> None:
        known = [t for t in times if t is not None]
        if known:
            self.last_event_time = max(known)

    async def _report_caught_up(self) -> None:
        """At most every `caught_up_interval`: export each assigned partition's lag, and tell `on_caught_up`
        when every assigned partition has been consumed up to its high watermark: everything published so
        far is applied."""
        if not self._caught_up_check.due():  # checked at most once per interval, caught up or not
            return
        assignment = self._consumer.assignment()
        positions = await self._positions(assignment) if assignment else []
        self._export_lag(positions)
        self.caught_up = False
        if not positions:
            return
        for tp in positions:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high < 0:  # not fetched yet: unknown, so not caught up
                return
            if high > 0 and (tp.offset < 0 or tp.offset < high):
                return
        self.caught_up = True
        if self._on_caught_up is None:
            return
        try:
            await self._on_caught_up()
        except Exception as exc:  # noqa: BLE001 - freshness is advisory: never stop consuming for it
            log.warning("recording freshness failed: %s", type(exc).__name__)

    async def _positions(self, assignment: list[TopicPartition]) -> list[TopicPartition]:
        """Where the group is in each assigned partition: the consumer's position, or, where nothing was
        consumed since the assignment, the group's committed offset (negative if unknown)."""
        positions = self._consumer.position(assignment)
        unknown = [tp for tp in positions if tp.offset < 0]
        if not unknown:
            return positions
        try:
            committed = await asyncio.to_thread(self._consumer.committed, unknown, 2.0)
        except Exception as exc:  # noqa: BLE001 - the broker is away: unknown, so not caught up
            log.debug("reading committed offsets failed: %s", type(exc).__name__)
            return positions
        known = {(tp.topic, tp.partition): tp.offset for tp in committed}
        return [
            TopicPartition(tp.topic, tp.partition, known.get((tp.topic, tp.partition), tp.offset))
            if tp.offset < 0
            else tp
            for tp in positions
        ]

    def _export_lag(self, positions: list[TopicPartition]) -> None:
        """bank_kafka_consumer_lag_messages per assigned partition: the cached high watermark minus the
        position (from the low watermark where the group has none yet); partitions no longer assigned, or
        whose watermark is not known yet, are dropped."""
        labels: set[tuple[str, str, str]] = set()
        try:
            for tp in positions:
                low, high = self._consumer.get_watermark_offsets(tp, cached=True)
                if high < 0:
                    continue  # not fetched yet
                position = tp.offset if tp.offset >= 0 else max(low, 0)
                key = (self._group_id, tp.topic, str(tp.partition))
                CONSUMER_LAG.labels(*key).set(max(0, high - position))
                labels.add(key)
        except Exception as exc:  # noqa: BLE001 - a metric must never stop consuming
            log.debug("sampling consumer lag failed: %s", type(exc).__name__)
            return
        for gone in self._lag_labels - labels:
            CONSUMER_LAG.remove(*gone)
        self._lag_labels = labels

    async def _process(self, record: Message, stop: asyncio.Event) -> bool:
        """Apply one record exactly once in effect. False only if asked to stop before it could be applied."""
        headers = record_headers(record)
        correlation_id.set(accept_correlation_id(headers.get("correlation-id")))
        if headers.get("ce_type", "") not in self._routes and headers.get("ce_id"):
            self.skipped += 1  # a type this service does not follow (or a newer one it does not know yet)
            return True
        try:
            event_id, route, event = self._decode(record, headers)
        except PoisonMessage as poison:
            return await self._dead_letter(record, poison.reason, stop)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._uow() as tx:
                    with consumer_span(record.topic(), record.partition(), event_context(headers)):
                        if await tx.inbox.first_delivery(event_id):
                            await route.handle(event, tx)
                            self.applied += 1
                    await tx.commit()
                self._note_event_time(_event_time(headers))
                return True
            except PoisonMessage as poison:  # found invalid while translating: never retried
                return await self._dead_letter(record, poison.reason, stop)
            except DependencyUnavailable:
                attempt = 0  # not the record's fault: wait for the database without counting attempts
                log.warning("database unavailable while applying an event; retrying")
            except Exception:
                log.exception("applying event %s failed (attempt %d of %d)", event_id, attempt, self._max_attempts)
                if attempt >= self._max_attempts:
                    return await self._dead_letter(record, "handler-failed", stop)
            if stop.is_set():
                return False
            await asyncio.sleep(random.uniform(0, min(self._backoff_cap, 0.05 * 2**attempt)))

    def _decode(self, record: Message, headers: dict[str, str]) -> tuple[str, Route, Any]:
        event_id, ce_type = headers.get("ce_id", ""), headers.get("ce_type", "")
        if not event_id or len(event_id) > 64:
            raise PoisonMessage("missing-or-invalid-ce_id")
        route = self._routes[ce_type]
        try:
            event = route.message_type.FromString(record.value() or b"")
        except DecodeError:
            raise PoisonMessage("undecodable-payload") from None
        return event_id, route, event

    async def _dead_letter(self, record: Message, reason: str, stop: asyncio.Event) -> bool:
        """Copy the record to its DLQ topic with the reason and its origin, and wait for the broker's ack
        (retrying while the broker is away). False only if asked to stop before the ack."""
        headers = [
            *(record.headers() or []),
            ("dlq-reason", reason.encode()),
            ("dlq-original-topic", record.topic().encode()),
            ("dlq-original-partition", str(record.partition()).encode()),
            ("dlq-original-offset", str(record.offset()).encode()),
        ]
        while not stop.is_set():
            outcome: list[Any] = []
            self._dlq.produce(
                dlq_topic(record.topic(), self._group_id),
                key=record.key(),
                value=record.value(),
                headers=headers,
                on_delivery=lambda err, _msg, outcome=outcome: outcome.append(err),
            )
            await asyncio.to_thread(self._dlq.flush, 5.0)
            if outcome and outcome[0] is None:
                self.dead_lettered += 1
                DLQ_MESSAGES.labels(self._group_id, record.topic(), reason).inc()
                log.warning(
                    "event sent to the DLQ: reason=%s topic=%s offset=%d", reason, record.topic(), record.offset()
                )
                return True
            log.warning("DLQ did not acknowledge; retrying")
            await asyncio.sleep(random.uniform(0.1, 1.0))
        return False


def _log_assignment(what: str) -> Callable[[Consumer, list[TopicPartition]], None]:
    def log_it(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        names = sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
        log.info("partitions %s: %s", what, ", ".join(names) or "none")

    return log_it


def record_headers(record: Message) -> dict[str, str]:
    """A record's headers as text (invalid UTF-8 replaced; a header without a value is empty; the last of
    repeated names wins), as routing and decoding read them."""
    return {k: (v.decode("utf-8", "replace") if v else "") for k, v in (record.headers() or [])}


def dlq_topic(topic: str, group_id: str) -> str:
    """Where a group's poison records of `topic` go."""
    return f"{topic}.dlq.{group_id}"


def _event_time(headers: Mapping[str, str]) -> float | None:
    """The CloudEvents `ce_time` as epoch seconds (None if absent or unreadable)."""
    try:
        return datetime.fromisoformat(headers["ce_time"]).timestamp()
    except (KeyError, ValueError):
        return None
