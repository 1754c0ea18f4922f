"""What the SQL units of work promise under concurrency, on SQLite (one writer at a time) and PostgreSQL (READ
COMMITTED, row locks, an advisory lock on the outbox; see adapters/outbound/sqlalchemy/engine.py): concurrent
changes to one aggregate lose nothing and reach the outbox in the order they committed; an outbox insert waits
for an earlier, uncommitted one (positions follow commit order); the my_accounts view never moves backwards;
an event delivered twice at once is applied once; on PostgreSQL one relay at a time publishes."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.outbound.events.account import account_events
from adapters.outbound.kafka.relay import KafkaOutboxRelay
from adapters.outbound.sqlalchemy import account as tables
from adapters.outbound.sqlalchemy import my_accounts as view_tables
from adapters.outbound.sqlalchemy.account import SqlAlchemyAccountUnitOfWork
from adapters.outbound.sqlalchemy.my_accounts import SqlAlchemyProjectionUnitOfWork
from adapters.outbound.sqlalchemy.outbox import OUTBOX_LOCK_KEY
from adapters.outbound.sqlalchemy.uow import Storage
from domain.account.model import Account, new_account_number
from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus
from tests.databases import BACKENDS, fresh_engine
from tests.fakes import FakeClock

clock = FakeClock()
N = 12


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    return request.param, request.getfixturevalue("postgres_url") if request.param == "postgres" else None


@contextlib.asynccontextmanager
async def account_storage(backend, tmp_path: Path) -> AsyncIterator[Storage]:
    name, url = backend
    async with fresh_engine(name, tables.metadata, tmp_path, url) as engine:
        yield Storage(engine, tables.outbox, tables.inbox, account_events, clock)


async def outbox_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tables.outbox.c.event_id).order_by(tables.outbox.c.position))).scalars())


async def test_concurrent_deposits_lose_nothing_and_reach_the_outbox_in_commit_order(backend, tmp_path: Path) -> None:
    async with account_storage(backend, tmp_path) as storage:
        account = Account.open(new_account_number(), str(uuid.uuid4()), "SAVINGS", clock.now())
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            await tx.accounts.add(account)
            await tx.commit()
        sequence_of: dict[str, int] = {}

        async def deposit(i: int) -> None:
            async with SqlAlchemyAccountUnitOfWork(storage) as tx:
                loaded = await tx.accounts.get(account.account_number)
                await asyncio.sleep(0.01)  # let the others pile up on the row
                loaded.deposit(10 + i, f"cid-{i}", clock.now())
                [event] = loaded.pending_events
                sequence_of[event.event_id] = loaded.sequence
                await tx.commit()

        await asyncio.gather(*(deposit(i) for i in range(N)))
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            final = await tx.accounts.get(account.account_number)
        assert final.balance == sum(10 + i for i in range(N))
        assert final.sequence == N + 1
        # the outbox, in position order, holds the deposits in the order they committed (their sequences)
        deposits = [sequence_of[e] for e in await outbox_ids(storage.engine) if e in sequence_of]
        assert deposits == list(range(2, N + 2))


async def test_an_outbox_insert_waits_for_an_earlier_uncommitted_one(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL only (SQLite never has two writers): transaction B, on another account, cannot take a
    position while transaction A holds the outbox lock; it gets the next one after A commits."""
    async with account_storage(("postgres", postgres_url), tmp_path) as storage:
        a, b = (Account.open(new_account_number(), str(uuid.uuid4()), "SAVINGS", clock.now()) for _ in range(2))
        async with storage.engine.connect() as holder:
            await holder.begin()
            await holder.execute(select(func.pg_advisory_xact_lock(OUTBOX_LOCK_KEY)))  # as A's outbox insert does

            async def open_b() -> None:
                async with SqlAlchemyAccountUnitOfWork(storage) as tx:
                    await tx.accounts.add(b)
                    await tx.commit()

            task = asyncio.create_task(open_b())
            await asyncio.sleep(0.5)
            assert not task.done()  # waiting for the lock, its row inserted but not committed
            await holder.commit()
            await asyncio.wait_for(task, 10)
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            await tx.accounts.add(a)
            await tx.commit()
        assert len(await outbox_ids(storage.engine)) == 2


def viewed(number: str, sequence: int, balance: int) -> ViewedAccount:
    return ViewedAccount(
        number, "c-1", "SAVINGS", balance, sequence, ViewedAccountStatus.OPEN, datetime(2026, 1, 1, tzinfo=UTC)
    )


async def test_the_view_never_moves_backwards_and_an_event_applies_once(backend, tmp_path: Path) -> None:
    name, url = backend
    async with fresh_engine(name, view_tables.metadata, tmp_path, url) as engine:
        storage = Storage(engine, None, view_tables.inbox, None, clock)
        for sequence, balance in [(1, 0), (3, 300), (2, 200)]:  # 2 arrives late: a racing, older write
            async with SqlAlchemyProjectionUnitOfWork(storage) as tx:
                await tx.accounts.put(viewed("1101", sequence, balance))
                await tx.commit()
        async with SqlAlchemyProjectionUnitOfWork(storage) as tx:
            held = await tx.accounts.get("1101")
        assert (held.sequence, held.balance) == (3, 300)

        applied: list[bool] = []

        async def deliver() -> None:
            async with SqlAlchemyProjectionUnitOfWork(storage) as tx:
                first = await tx.inbox.first_delivery("evt-twice")
                await asyncio.sleep(0.05)
                applied.append(first)
                await tx.commit()

        await asyncio.gather(deliver(), deliver())
        assert sorted(applied) == [False, True]


class SlowProducer:
    """A stand-in for confluent_kafka.Producer whose flush (the broker's acknowledgement) waits for `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.flushing = threading.Event()
        self.produced: list[bytes] = []
        self._callbacks: list = []

    def produce(self, topic: str, key: bytes, value: bytes, headers: list, on_delivery) -> None:  # type: ignore[no-untyped-def]
        self.produced.append(value)
        self._callbacks.append(on_delivery)

    def flush(self, timeout: float) -> int:
        self.flushing.set()
        self.release.wait(timeout)
        for callback in self._callbacks:
            callback(None, None)
        self._callbacks.clear()
        return 0

    def poll(self, timeout: float) -> int:
        return 0


async def test_one_relay_at_a_time_publishes_a_shared_outbox(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL only (replicas share its outbox): while one relay's pass is publishing, another's finds the
    relay lock taken and publishes nothing, so rows are neither sent twice at once nor out of order."""
    async with account_storage(("postgres", postgres_url), tmp_path) as storage:
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            await tx.accounts.add(Account.open(new_account_number(), str(uuid.uuid4()), "SAVINGS", clock.now()))
            await tx.commit()
        first, second = SlowProducer(), SlowProducer()
        relays = [KafkaOutboxRelay(storage.engine, tables.outbox, p, clock, flush_timeout=10) for p in (first, second)]
        second.release.set()
        publishing = asyncio.create_task(relays[0].publish_pending())
        await asyncio.to_thread(first.flushing.wait, 10)
        assert await relays[1].publish_pending() == 0
        assert second.produced == []
        first.release.set()
        assert await publishing == 1
        assert await relays[1].publish_pending() == 0  # nothing left: the first marked it sent


async def test_a_unit_of_work_cancelled_anywhere_gives_back_its_turn_and_its_connection(
    backend, tmp_path: Path
) -> None:
    """A client's deadline cancels its handler wherever it is: waiting for the write turn, connecting,
    beginning, reading, committing, closing. After a process was frozen every deadline expires at once
    (E11's SIGSTOP of the account service), so all of those happen together. Whatever was cancelled where, the
    next unit of work starts at once and nothing is left checked out of the pool or holding SQLite's lock."""
    rng = random.Random(7)
    async with account_storage(backend, tmp_path) as storage:
        account = Account.open(new_account_number(), str(uuid.uuid4()), "SAVINGS", clock.now())
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            await tx.accounts.add(account)
            await tx.commit()

        async def deposit(i: int) -> None:
            async with SqlAlchemyAccountUnitOfWork(storage) as tx:
                loaded = await tx.accounts.get(account.account_number)
                loaded.deposit(1, f"cid-{i}", clock.now())
                await tx.commit()

        committed = 0
        for round_ in range(40):
            tasks = [asyncio.create_task(deposit(round_ * 100 + i)) for i in range(8)]
            await asyncio.sleep(rng.uniform(0, 0.02))
            for task in tasks:
                if rng.random() < 0.7:
                    task.cancel()
            # a leaked write turn or connection shows here as a wait that never ends
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=15)
            committed += sum(1 for r in results if r is None)
            assert all(r is None or isinstance(r, asyncio.CancelledError) for r in results), results

        async def last_deposit() -> int:
            async with SqlAlchemyAccountUnitOfWork(storage) as tx:
                loaded = await tx.accounts.get(account.account_number)
                loaded.deposit(1, "cid-last", clock.now())
                await tx.commit()
                return loaded.balance

        balance = await asyncio.wait_for(last_deposit(), timeout=5)
        assert storage.engine.pool.checkedout() == 0
        # a cancelled commit may or may not have committed; what did commit counted once (balance = sequence)
        async with SqlAlchemyAccountUnitOfWork(storage) as tx:
            final = await tx.accounts.get(account.account_number)
        assert final.balance == balance == final.sequence - 1
        assert balance >= committed + 1
