"""The outbox and inbox tables every service has in its own database.

outbox: events written in the same transaction as the change that caused them; the relay publishes them in
`position` order and sets `sent_at` only after the broker acknowledged them.
inbox: ids of the events a consumer has applied, written in the same transaction as their effect, so a
redelivered event is recognized and skipped."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.outbound.events.cloudevents import OutgoingMessage
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from domain.shared.ports import OutboxStatus


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("position", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("ce_type", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", UtcTimestamp, nullable=False),
        Column("sent_at", UtcTimestamp, nullable=True),
    )
    # The relay's only query: unsent rows in order. A partial index keeps it small however long the table grows.
    Index(
        "ix_outbox_unsent",
        table.c.position,
        sqlite_where=table.c.sent_at.is_(None),
        postgresql_where=table.c.sent_at.is_(None),
    )
    return table


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("message_id", String(64), primary_key=True),
        Column("processed_at", UtcTimestamp, nullable=False),
    )


# Any constant: the advisory lock key that orders the outbox inserts of one PostgreSQL database.
OUTBOX_LOCK_KEY = 0x6F7574626F78  # "outbox"


async def write_outbox(conn: AsyncConnection, table: Table, messages: list[OutgoingMessage], now: datetime) -> None:
    if not messages:
        return
    if conn.dialect.name == "postgresql":
        # Outbox positions come from a sequence, drawn at insert time; without this lock a transaction that
        # drew position n could commit after one that drew n+1, and the relay would publish n+1 first. The
        # lock is held until commit, so positions follow commit order (SQLite gets that from its one writer).
        # Only the tail of a transaction (outbox insert + commit) is serialized: it is taken last, after
        # every row lock, so it cannot deadlock with them.
        await conn.execute(select(func.pg_advisory_xact_lock(OUTBOX_LOCK_KEY)))
    await conn.execute(
        insert(table),
        [
            {
                "event_id": m.event_id,
                "topic": m.topic,
                "message_key": m.key,
                "ce_type": m.ce_type,
                "payload": m.payload,
                "headers": json.dumps(m.headers),
                "created_at": now,
            }
            for m in messages
        ],
    )


async def record_in_inbox(conn: AsyncConnection, table: Table, message_id: str, now: datetime) -> bool:
    """Insert the id unless present; True if this is its first delivery."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    result = await conn.execute(stmt.values(message_id=message_id, processed_at=now))
    return result.rowcount == 1


class SqlOutboxMonitor:
    """The outbox's backlog for operators: two aggregate reads (the unsent ones use the partial index)."""

    def __init__(self, engine: AsyncEngine, table: Table) -> None:
        self._engine = engine
        self._table = table

    async def status(self) -> OutboxStatus:
        t = self._table
        async with self._engine.connect() as conn:
            pending, oldest = (
                await conn.execute(select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None)))
            ).one()
            sent, last = (
                await conn.execute(select(func.count(), func.max(t.c.sent_at)).where(t.c.sent_at.is_not(None)))
            ).one()
        return OutboxStatus(pending, oldest, sent, last)
