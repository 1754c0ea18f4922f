"""The consumer runner against the real broker: a record delivered twice is applied once; a poison record
goes to the DLQ and the stream goes on; offsets are committed only after the apply."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from adapters.inbound.kafka.runner import KafkaConsumerRunner, PoisonMessage, Route, consumer_config, dlq_topic
from adapters.outbound.events.customer import customer_events
from adapters.outbound.kafka.relay import producer_config
from adapters.outbound.kafka.topics import ensure_topics
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.outbox import inbox_table, outbox_table
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, Storage
from bank.customer.v1 import events_pb2
from tests.fakes import FakeClock
from tests.integration.kafka_tools import read_records
from tests.kafka_auth import admin_security

pytestmark = pytest.mark.kafka

metadata = MetaData()
applied = Table("applied", metadata, Column("id", Integer, primary_key=True), Column("customer_id", String(36)))
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class AppliedUnitOfWork(SqlAlchemyUnitOfWork):
    def _open(self, conn):  # type: ignore[no-untyped-def]
        return []


async def record_application(event: events_pb2.CustomerTerminated, tx: AppliedUnitOfWork) -> None:
    if event.customer_version < 0:  # a translator that finds the event invalid (as tests/fuzz's atheris did)
        raise PoisonMessage("invalid-event")
    await tx.connection.execute(insert(applied).values(customer_id=event.customer_id))


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes, dict[str, str]]]) -> None:
    producer = Producer(producer_config(bootstrap, admin_security()))
    for key, value, headers in records:
        producer.produce(topic, key=key.encode(), value=value, headers=list(headers.items()))
    assert producer.flush(10) == 0


async def run_until(runner: KafkaConsumerRunner, done, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Run the runner until `done()` (checked every 50 ms, at most `limit` seconds), then stop it cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(limit):
            while not done():  # noqa: ASYNC110 - polling a plain counter of the runner
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_duplicate_is_applied_once_and_poison_goes_to_the_dlq(kafka: str, tmp_path: Path) -> None:
    topic, group = f"test.runner.{uuid.uuid4().hex[:8]}", f"test-group-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka, [topic, dlq_topic(topic, group)], security=admin_security())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/runner.db")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    storage = Storage(engine, outbox, inbox, customer_events, FakeClock())

    customer_id = str(uuid.uuid4())
    event = events_pb2.CustomerTerminated(customer_id=customer_id, customer_version=2).SerializeToString()
    headers = {"ce_id": str(uuid.uuid4()), "ce_type": "bank.customer.v1.CustomerTerminated", "ce_specversion": "1.0"}
    poison_headers = {**headers, "ce_id": str(uuid.uuid4())}
    invalid = events_pb2.CustomerTerminated(customer_id=customer_id, customer_version=-1).SerializeToString()
    produce(
        kafka,
        topic,
        [
            (customer_id, event, headers),
            (customer_id, event, headers),  # the relay published it twice (crash after ack, before marking sent)
            (customer_id, b"\xff\xff not protobuf", poison_headers),
            (customer_id, event, {**headers, "ce_id": "", "ce_type": "x"}),  # no event id: poison too
            (customer_id, invalid, {**headers, "ce_id": str(uuid.uuid4())}),  # poison found by its handler
        ],
    )

    def runner() -> KafkaConsumerRunner:
        return KafkaConsumerRunner(
            Consumer(consumer_config(kafka, group, admin_security())),
            Producer(producer_config(kafka, admin_security())),
            group,
            [topic],
            {"bank.customer.v1.CustomerTerminated": Route(events_pb2.CustomerTerminated, record_application)},
            lambda: AppliedUnitOfWork(storage),
        )

    first = runner()
    await run_until(first, lambda: first.applied + first.dead_lettered >= 4)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(applied))).scalar() == 1
    assert (first.applied, first.dead_lettered) == (1, 3)
    dead = read_records(kafka, dlq_topic(topic, group), customer_id, expected=3)
    reasons = sorted(r.headers["dlq-reason"] for r in dead)  # invalid-event at once, not handler-failed
    assert reasons == [
        "invalid-event",
        "missing-or-invalid-ce_id",
        "undecodable-payload",
    ]

    # Offsets were committed after the applies: the same group restarts past all five records.
    produce(kafka, topic, [(customer_id, event, {**headers, "ce_id": str(uuid.uuid4())})])
    second = runner()
    await run_until(second, lambda: second.applied >= 1)
    await asyncio.sleep(0.5)
    assert (second.applied, second.dead_lettered) == (1, 0)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(applied))).scalar() == 2
    await engine.dispose()
