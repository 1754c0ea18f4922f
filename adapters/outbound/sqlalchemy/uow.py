"""The unit of work on an async SQLAlchemy connection: one transaction; on commit the repositories write
what changed, the events of every aggregate they saw go to the outbox, and only then does the transaction
commit. Leaving the block without commit rolls everything back. Database faults surface as
DependencyUnavailable, with the driver's text kept out of the message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import Engine, Executable, Row, Table
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.outbound.events.cloudevents import EventEncoder
from adapters.outbound.sqlalchemy.engine import write_turn
from adapters.outbound.sqlalchemy.outbox import record_in_inbox, write_outbox
from domain.shared.aggregate import Aggregate
from domain.shared.clock import Clock
from domain.shared.errors import DependencyUnavailable
from domain.shared.events import DomainEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


class TrackingRepository(Protocol):
    """A repository that writes its changes when the unit of work commits, and knows the aggregates it saw."""

    async def flush(self) -> None: ...

    def seen(self) -> list[Aggregate]: ...


@dataclass(frozen=True)
class Storage:
    """What a service's units of work share: the engine, its outbox and inbox tables, its event encoder,
    a hook the relay uses to learn that new events were committed, and one that is shown the committed
    events themselves (metrics count login outcomes there, outside the domain)."""

    engine: AsyncEngine
    outbox: Table | None  # None for a service that publishes nothing (the my_accounts view)
    inbox: Table
    encoder: EventEncoder | None
    clock: Clock
    on_commit: Callable[[], None] = lambda: None
    on_events: Callable[[Sequence[DomainEvent]], None] = lambda _events: None


class SqlInbox:
    def __init__(self, conn: AsyncConnection, table: Table, clock: Clock) -> None:
        self._conn, self._table, self._clock = conn, table, clock

    async def first_delivery(self, message_id: str) -> bool:
        return await record_in_inbox(self._conn, self._table, message_id, self._clock.now())


class SqlAlchemyUnitOfWork:
    """Base of each context's unit of work; subclasses build their repositories in `_open`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._turn: contextlib.AbstractAsyncContextManager[None] | None = None
        self._conn: AsyncConnection | None = None
        self._repositories: list[TrackingRepository] = []
        self._recorded: list[DomainEvent] = []

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        raise NotImplementedError

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "used outside its `async with` block"
        return self._conn

    async def __aenter__(self) -> Self:
        self._turn = write_turn(self._storage.engine)
        await self._turn.__aenter__()
        try:
            await uninterrupted(self._begin())
        except (OperationalError, PoolTimeout, DBAPIError, OSError) as exc:
            await self._close()
            raise _unavailable(exc) from None
        except BaseException:  # cancelled (the caller's deadline): give back the turn and the connection
            await self._close()
            raise
        self.inbox = SqlInbox(self.connection, self._storage.inbox, self._storage.clock)
        self._repositories = self._open(self.connection)
        return self

    async def _begin(self) -> None:
        self._conn = await self._storage.engine.connect()
        await self._conn.begin()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self._close()
        if isinstance(exc, (OperationalError, PoolTimeout, DBAPIError)):
            raise _unavailable(exc) from None

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        turn, self._turn = self._turn, None
        try:
            if conn is not None:
                await uninterrupted(conn.close())  # rolls back whatever was not committed
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the first error
            log.warning("closing a database connection failed", exc_info=False)
        finally:
            if turn is not None:
                await turn.__aexit__(None, None, None)

    def record(self, *events: DomainEvent) -> None:
        self._recorded.extend(events)

    async def commit(self) -> None:
        conn = self.connection
        events: list[DomainEvent] = []
        for repository in self._repositories:
            await repository.flush()
            for aggregate in repository.seen():
                events.extend(aggregate.pending_events)
        events.extend(self._recorded)  # consequences recorded by the handler come after the changes themselves
        if events:
            outbox, encoder = self._storage.outbox, self._storage.encoder
            assert outbox is not None and encoder is not None, "this service has no outbox"
            await write_outbox(conn, outbox, [encoder.encode(e) for e in events], self._storage.clock.now())
        await conn.commit()
        for repository in self._repositories:
            for aggregate in repository.seen():
                aggregate.take_events()
        self._recorded.clear()
        if events:
            self._storage.on_commit()
            try:
                self._storage.on_events(events)
            except Exception:  # observing must never turn a committed change into an error
                log.warning("observing committed events failed", exc_info=True)


async def uninterrupted(work: Awaitable[T]) -> T:
    """Await `work` to its end even if the caller is cancelled meanwhile, then pass the cancellation on.

    A handler is cancelled wherever it stands when its client's deadline passes; after a process was frozen,
    every deadline passes at once. Opening or closing a transaction cut short would leave the connection
    checked out of the pool, or inside a transaction that holds SQLite's write lock, and the write turn taken:
    every later unit of work would then wait forever."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


@contextlib.contextmanager
def database_faults() -> Iterator[None]:
    """For reads outside a unit of work: a database fault becomes DependencyUnavailable, as in one."""
    try:
        yield
    except (OperationalError, PoolTimeout, DBAPIError, OSError) as exc:
        raise _unavailable(exc) from None


async def read(engine: AsyncEngine | Engine, statement: Executable, parameters: Mapping[str, Any]) -> list[Row[Any]]:
    """The rows of one statement outside any unit of work, on a reader engine (engine.create_reader: an async
    one, or SQLite's synchronous one in the event loop's thread); a database fault is unavailable."""
    with database_faults():
        if isinstance(engine, Engine):
            with engine.connect() as conn:
                return list(conn.execute(statement, parameters))
        async with engine.connect() as conn:
            return list(await conn.execute(statement, parameters))


def _unavailable(exc: BaseException) -> DependencyUnavailable:
    # The driver's message can hold SQL and paths: log its class only, never send it.
    log.warning("database unavailable: %s", type(exc).__name__)
    return DependencyUnavailable("the service's database is unavailable; nothing was changed")
