"""Async engines for SQLite (aiosqlite, the embedded default) and other SQLAlchemy databases.

SQLite is set up for a service that writes concurrently: WAL (readers never block the writer), a busy
timeout instead of instant "database is locked", and BEGIN IMMEDIATE so that a transaction takes the write
lock at its start. Without it, two transactions that read and then write can both read the same balance
before either writes; with it, SQLite serializes them, which is what money needs.

PostgreSQL (postgresql+asyncpg://) gets none of that: a normal connection pool (pre-ping, bounded size and
wait) at READ COMMITTED, and the same guarantees from row locks instead of one writer at a time:
- every aggregate a unit of work may change is read with SELECT ... FOR UPDATE (repository.py): a second
  transaction on the same row waits for the first to commit and then reads the committed row, so
  read-modify-write on one aggregate is serialized exactly as under BEGIN IMMEDIATE, and the version guard of
  each UPDATE still catches anything that slipped past (ConcurrentChange);
- check-then-insert races end on a primary key or unique constraint (IntegrityError -> AlreadyExists, which
  the handlers retry or report), and "insert or ignore"/upserts use ON CONFLICT, so the inbox dedupes a
  redelivered event by its primary key even when two consumers apply it at once;
- the outbox insert takes a transaction-scoped advisory lock (outbox.py), so outbox positions are handed out
  in commit order, as with SQLite's single writer: the relay never sees position n+1 committed before n;
  and replicas sharing one outbox publish one relay at a time (a session advisory lock, kafka/relay.py).
Lock order: a transfer locks its accounts in account-number order. A token refresh (session, then member) and a
termination (member, then its sessions) lock in opposite orders: if they meet on one member, PostgreSQL
detects the deadlock within a second and aborts one, which answers UNAVAILABLE with nothing changed.
SERIALIZABLE was not chosen: it would turn every conflict into a serialization failure to retry, where the
row locks above already make the conflicting transactions wait their turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


class RollbackOnClose(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    sqlite3 closes with sqlite3_close_v2: while a statement of the connection is still unfinalized (a cursor
    kept alive by a cancelled task's traceback, until the garbage collector breaks the cycle), the connection
    only becomes a "zombie", and its open transaction, with the write lock, stays until then. SQLAlchemy
    closes a connection that way when an asyncio cancellation (a client's deadline) interrupts a statement;
    every later writer then waited on "database is locked". ROLLBACK ends the transaction at once, pending
    statements or not."""

    def close(self) -> None:
        try:
            if self.in_transaction:
                self.rollback()
        except sqlite3.Error as error:  # closing anyway: the rollback was a courtesy to the other writers
            log.debug("rollback before close failed: %s", type(error).__name__)
        super().close()


def create_reader(url: str) -> AsyncEngine | Engine:
    """An engine for reads outside any unit of work (the member service's login lookup), one statement at a
    time. PostgreSQL: the async engine. SQLite: a synchronous engine (the sqlite3 driver itself) used in the
    event loop's own thread.

    Why: such a read is an indexed lookup in a local file, tens of microseconds; through aiosqlite each
    statement costs four or five hops to the connection's thread and back (cursor, execute, fetch, close, and
    the rollback when the connection goes back to the pool), and the hops were the read's cost. The four reads
    of a ListMyAccounts took 5.4-7.5 ms of CPU through aiosqlite with a BEGIN each, 4.4-4.9 without the BEGIN,
    and 1.3-1.5 ms in the loop (`taskset -c 1 python -m bench.view_reads 3000`, alternated runs; the view has
    since gone further, to sqlite3 itself: adapters/outbound/sqlite). Blocking the loop that long is cheaper
    than leaving it. No BEGIN is sent: each statement is its own read transaction (SQLite's autocommit), which
    in WAL never waits for the writer; the short busy timeout is for the rare moments a reader must (WAL
    recovery after a writer's crash), and then the read fails, as unavailable (uow.database_faults), instead
    of holding the loop."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url)
    engine = sqlalchemy.create_engine(parsed.set(drivername="sqlite+pysqlite"), connect_args={"timeout": 0.2})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: no BEGIN, each statement reads on its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")  # a reader, whatever a bug might ask of it
        cursor.close()

    return engine


async def dispose(engine: AsyncEngine | Engine) -> None:
    """Close a reader engine's connections, synchronous or async."""
    if isinstance(engine, Engine):
        engine.dispose()
    else:
        await engine.dispose()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url` that a service reads and writes through (units of work, relays, projectors)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options: dict[str, Any] = {
            "pool_pre_ping": True,  # a connection the server or a proxy dropped is replaced, not handed out
            "pool_size": 10,
            "max_overflow": 10,
            "pool_timeout": 10,  # waiting longer than this for a connection: DependencyUnavailable
            "pool_recycle": 1800,
            "isolation_level": "READ COMMITTED",  # explicit: the module docstring says why it is enough
        }
        if parsed.get_driver_name() == "asyncpg":
            # Every call to the database has a deadline, as every other outbound call: connecting, and each
            # statement. Without them a partitioned database (no RST, no FIN) holds a connection, and the relay
            # or a consumer using it, for as long as TCP keeps retransmitting: a quarter of an hour.
            options["connect_args"] = {"timeout": 5, "command_timeout": 10}
        connect_args = {**options.pop("connect_args", {}), **kwargs.pop("connect_args", {})}  # the caller's added
        return create_async_engine(url, connect_args=connect_args, **{**options, **kwargs})
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 10, "factory": RollbackOnClose}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_write_locks: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def write_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Wait for this process's turn to write. SQLite has one writer at a time; without a queue here, every
    waiting transaction polls inside SQLite's busy handler, which sleeps in steps of up to 100 ms. Other
    databases need no such queue."""
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _write_locks.setdefault(engine, asyncio.Lock())
    async with lock:
        yield


@contextlib.asynccontextmanager
async def begin_write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, in this process's write turn."""
    async with write_turn(engine), engine.begin() as conn:
        yield conn
