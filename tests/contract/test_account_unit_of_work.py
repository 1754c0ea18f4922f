"""One suite, every implementation of the account unit of work (the fake and SQLAlchemy on SQLite and
PostgreSQL, each test on a fresh, migrated database or schema): what is
committed is stored with its events, in order; what is not committed leaves no trace; a taken account number
and a stale version are refused with nothing stored; an idempotency record commits with its change or not at
all; the customer-status replica keeps the newest version; the inbox recognizes a second delivery."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.outbound.events.account import account_events
from adapters.outbound.sqlalchemy import account as tables
from adapters.outbound.sqlalchemy.account import SqlAlchemyAccountUnitOfWork
from adapters.outbound.sqlalchemy.uow import Storage
from domain.account.model import MAX_BALANCE, Account, AccountStatus, new_account_number
from domain.account.ports import IdempotencyRecord
from domain.shared.errors import AlreadyExists, FailedPrecondition
from domain.shared.standing import CustomerStanding, CustomerStatus
from tests.databases import BACKENDS, fresh_engine
from tests.fakes import FakeAccountStore, FakeAccountUnitOfWork, FakeClock

clock = FakeClock()


@dataclass
class Harness:
    uow: Callable[[], Any]
    outbox_ids: Callable[[], Awaitable[list[str]]]  # event ids committed to the outbox, in order
    # Changes a stored account behind the unit of work's back, as a concurrent writer would.
    meddle: Callable[[Any, str], Awaitable[None]]


@pytest.fixture(params=["fake", *BACKENDS])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with contextlib.AsyncExitStack() as stack:
        async for harness in _harness(request, tmp_path, stack):
            yield harness


async def _harness(
    request: pytest.FixtureRequest, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> AsyncIterator[Harness]:
    if request.param == "fake":
        store = FakeAccountStore()

        async def fake_ids() -> list[str]:
            return [e.event_id for e in store.outbox]

        async def fake_meddle(tx: Any, number: str) -> None:
            store.accounts[number].sequence += 1

        yield Harness(lambda: FakeAccountUnitOfWork(store), fake_ids, fake_meddle)
        return
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = await stack.enter_async_context(fresh_engine(request.param, tables.metadata, tmp_path, postgres))
    storage = Storage(engine, tables.outbox, tables.inbox, account_events, clock)

    async def sql_ids() -> list[str]:
        async with engine.connect() as conn:
            return list(
                (await conn.execute(select(tables.outbox.c.event_id).order_by(tables.outbox.c.position))).scalars()
            )

    async def sql_meddle(tx: Any, number: str) -> None:
        # Inside the same transaction: SQLite lets no other writer in while it is open.
        accounts = tables.accounts
        await tx.connection.execute(
            update(accounts)
            .where(accounts.c.account_number == number)
            .values(version=accounts.c.version + 1, sequence=accounts.c.sequence + 1)
        )

    yield Harness(lambda: SqlAlchemyAccountUnitOfWork(storage), sql_ids, sql_meddle)


def an_account(customer_id: str | None = None) -> Account:
    return Account.open(new_account_number(), customer_id or str(uuid.uuid4()), "SAVINGS", clock.now())


def ids(events: list[Any]) -> list[str]:
    return [e.event_id for e in events]


def a_record(customer_id: str, key: str = "key-1", result: str = "[]") -> IdempotencyRecord:
    return IdempotencyRecord(customer_id, key, "d" * 64, result, clock.now())


async def stored(harness: Harness, account: Account) -> Account:
    async with harness.uow() as tx:
        await tx.accounts.add(account)
        await tx.commit()
    return account


async def test_committed_account_is_stored_with_its_event(harness: Harness) -> None:
    account = an_account()
    opened_ids = ids(account.pending_events)
    await stored(harness, account)
    async with harness.uow() as tx:
        found = await tx.accounts.get(account.account_number)
        assert found is await tx.accounts.get(account.account_number)  # one object per account per unit of work
    assert found is not None and found == account
    assert (found.balance, found.sequence, found.version, found.status) == (0, 1, 1, AccountStatus.OPEN)
    assert (found.opened_at, found.updated_at) == (account.opened_at, account.updated_at)
    assert await harness.outbox_ids() == opened_ids


async def test_the_largest_balance_is_stored_exactly(harness: Harness) -> None:
    account = an_account()
    account.deposit(MAX_BALANCE, "cid", clock.now())
    await stored(harness, account)
    async with harness.uow() as tx:
        assert (await tx.accounts.get(account.account_number)).balance == MAX_BALANCE


async def test_uncommitted_work_leaves_no_trace(harness: Harness) -> None:
    account = an_account()
    async with harness.uow() as tx:
        await tx.accounts.add(account)
        await tx.idempotency.add(a_record(account.customer_id))
    async with harness.uow() as tx:
        assert await tx.accounts.get(account.account_number) is None
        assert await tx.idempotency.get(account.customer_id, "key-1") is None
    assert await harness.outbox_ids() == []


async def test_a_change_is_stored_and_published_once_in_order(harness: Harness) -> None:
    account = await stored(harness, an_account())
    async with harness.uow() as tx:
        loaded = await tx.accounts.get(account.account_number)
        loaded.deposit(100, "cid-1", clock.now())
        loaded.withdraw(30, "cid-2", clock.now())
        changed_ids = ids(loaded.pending_events)
        await tx.commit()
    async with harness.uow() as tx:  # a later transaction must not publish the same events again
        again = await tx.accounts.get(account.account_number)
        await tx.commit()
    assert (again.balance, again.sequence) == (70, 3)
    assert (await harness.outbox_ids())[1:] == changed_ids


async def test_two_accounts_in_one_transaction_publish_in_load_order(harness: Harness) -> None:
    pair = [await stored(harness, an_account()), await stored(harness, an_account())]
    first, second = sorted(pair, key=lambda a: a.account_number)
    before = await harness.outbox_ids()
    async with harness.uow() as tx:
        a = await tx.accounts.get(first.account_number)
        b = await tx.accounts.get(second.account_number)
        b.deposit(5, "cid", clock.now())
        a.deposit(7, "cid", clock.now())
        a.withdraw(7, "cid", clock.now())
        expected = ids(a.pending_events) + ids(b.pending_events)
        await tx.commit()
    assert await harness.outbox_ids() == before + expected


async def test_a_rolled_back_change_is_not_stored(harness: Harness) -> None:
    account = await stored(harness, an_account())
    async with harness.uow() as tx:
        (await tx.accounts.get(account.account_number)).deposit(10, "cid", clock.now())
    async with harness.uow() as tx:
        assert (await tx.accounts.get(account.account_number)).balance == 0
    assert len(await harness.outbox_ids()) == 1


async def test_unknown_account_is_none(harness: Harness) -> None:
    async with harness.uow() as tx:
        assert await tx.accounts.get(new_account_number()) is None


async def test_a_taken_account_number_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    taken = await stored(harness, an_account())
    other = await stored(harness, an_account())
    twin = Account.open(taken.account_number, str(uuid.uuid4()), "OTHER", clock.now())
    with pytest.raises(AlreadyExists):
        async with harness.uow() as tx:
            (await tx.accounts.get(other.account_number)).deposit(1, "cid", clock.now())
            await tx.accounts.add(twin)
            await tx.commit()
    async with harness.uow() as tx:
        assert (await tx.accounts.get(taken.account_number)).customer_id == taken.customer_id
        assert (await tx.accounts.get(other.account_number)).balance == 0
    assert len(await harness.outbox_ids()) == 2


async def test_a_write_over_a_concurrent_change_is_refused(harness: Harness) -> None:
    account = await stored(harness, an_account())
    with pytest.raises(FailedPrecondition):
        async with harness.uow() as tx:
            loaded = await tx.accounts.get(account.account_number)
            await harness.meddle(tx, account.account_number)
            loaded.deposit(10, "cid", clock.now())
            await tx.commit()
    async with harness.uow() as tx:
        assert (await tx.accounts.get(account.account_number)).balance == 0
    assert len(await harness.outbox_ids()) == 1


async def test_an_idempotency_record_commits_with_the_change(harness: Harness) -> None:
    account = await stored(harness, an_account())
    record = a_record(account.customer_id, "deposit-1", '[{"balance":10}]')
    async with harness.uow() as tx:
        assert await tx.idempotency.get(account.customer_id, "deposit-1") is None
        (await tx.accounts.get(account.account_number)).deposit(10, "cid", clock.now())
        await tx.idempotency.add(record)
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.idempotency.get(account.customer_id, "deposit-1") == record
        assert await tx.idempotency.get(account.customer_id, "deposit-2") is None
        assert await tx.idempotency.get(str(uuid.uuid4()), "deposit-1") is None  # keys are per customer


async def test_a_taken_idempotency_key_is_refused(harness: Harness) -> None:
    customer_id = str(uuid.uuid4())
    async with harness.uow() as tx:
        await tx.idempotency.add(a_record(customer_id))
        await tx.commit()
    with pytest.raises(AlreadyExists):
        async with harness.uow() as tx:
            await tx.idempotency.add(a_record(customer_id, result='["other"]'))
            await tx.commit()
    async with harness.uow() as tx:
        assert (await tx.idempotency.get(customer_id, "key-1")).result == "[]"


async def test_the_replica_keeps_the_newest_standing(harness: Harness) -> None:
    customer_id = str(uuid.uuid4())
    async with harness.uow() as tx:
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.TERMINATED, 3))
        await tx.commit()
    async with harness.uow() as tx:
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.NORMAL, 2))
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.TERMINATED, 3)
        assert await tx.customers.get(str(uuid.uuid4())) is None


async def test_inbox_recognizes_a_second_delivery_only_after_commit(harness: Harness) -> None:
    async with harness.uow() as tx:
        assert await tx.inbox.first_delivery("evt-1")
    async with harness.uow() as tx:
        assert await tx.inbox.first_delivery("evt-1")
        await tx.commit()
    async with harness.uow() as tx:
        assert not await tx.inbox.first_delivery("evt-1")
