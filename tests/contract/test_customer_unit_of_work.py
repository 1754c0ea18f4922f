"""One suite, every implementation of the customer unit of work and repository (the fake and SQLAlchemy on SQLite and
PostgreSQL, each test on a fresh, migrated database or schema): what is committed is stored with its events; what is
not committed leaves no trace; the inbox recognizes a second delivery."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.outbound.events.customer import customer_events
from adapters.outbound.sqlalchemy import customer as tables
from adapters.outbound.sqlalchemy.customer import SqlAlchemyCustomerUnitOfWork
from adapters.outbound.sqlalchemy.uow import Storage
from domain.customer.model import Customer, CustomerStatus
from tests.databases import BACKENDS, fresh_engine
from tests.fakes import FakeClock, FakeCustomerUnitOfWork, FakeStore

clock = FakeClock()


@dataclass
class Harness:
    uow: Callable[[], object]
    outbox_ids: Callable[[], object]  # async () -> list of event ids committed to the outbox, in order


@pytest.fixture(params=["fake", *BACKENDS])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with contextlib.AsyncExitStack() as stack:
        async for harness in _harness(request, tmp_path, stack):
            yield harness


async def _harness(
    request: pytest.FixtureRequest, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> AsyncIterator[Harness]:
    if request.param == "fake":
        store = FakeStore()

        async def fake_ids() -> list[str]:
            return [e.event_id for e in store.outbox]

        yield Harness(lambda: FakeCustomerUnitOfWork(store), fake_ids)
        return
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = await stack.enter_async_context(fresh_engine(request.param, tables.metadata, tmp_path, postgres))
    storage = Storage(engine, tables.outbox, tables.inbox, customer_events, clock)

    async def sql_ids() -> list[str]:
        async with engine.connect() as conn:
            return list(
                (await conn.execute(select(tables.outbox.c.event_id).order_by(tables.outbox.c.position))).scalars()
            )

    yield Harness(lambda: SqlAlchemyCustomerUnitOfWork(storage), sql_ids)


async def test_committed_customer_is_stored_with_its_event(harness: Harness) -> None:
    customer = Customer.register("Lee", clock.now())
    event_ids = [e.event_id for e in customer.pending_events]
    async with harness.uow() as tx:
        await tx.customers.add(customer)
        await tx.commit()
    async with harness.uow() as tx:
        stored = await tx.customers.get(customer.customer_id)
    assert stored is not None
    assert (stored.customer_id, stored.name, stored.status, stored.version) == (
        customer.customer_id,
        "Lee",
        CustomerStatus.NORMAL,
        1,
    )
    assert stored.registered_at == customer.registered_at
    assert await harness.outbox_ids() == event_ids


async def test_uncommitted_work_leaves_no_trace(harness: Harness) -> None:
    customer = Customer.register("Park", clock.now())
    async with harness.uow() as tx:
        await tx.customers.add(customer)
    async with harness.uow() as tx:
        assert await tx.customers.get(customer.customer_id) is None
    assert await harness.outbox_ids() == []


async def test_a_change_is_stored_and_published_once(harness: Harness) -> None:
    customer = Customer.register("Choi", clock.now())
    async with harness.uow() as tx:
        await tx.customers.add(customer)
        await tx.commit()
    async with harness.uow() as tx:
        loaded = await tx.customers.get(customer.customer_id)
        loaded.terminate(clock.now())
        await tx.commit()
    async with harness.uow() as tx:  # a later transaction must not publish the same events again
        again = await tx.customers.get(customer.customer_id)
        await tx.commit()
    assert again.status is CustomerStatus.TERMINATED and again.version == 2
    assert len(await harness.outbox_ids()) == 2


async def test_a_rolled_back_change_is_not_stored(harness: Harness) -> None:
    customer = Customer.register("Jung", clock.now())
    async with harness.uow() as tx:
        await tx.customers.add(customer)
        await tx.commit()
    async with harness.uow() as tx:
        (await tx.customers.get(customer.customer_id)).suspend(clock.now())
    async with harness.uow() as tx:
        assert (await tx.customers.get(customer.customer_id)).status is CustomerStatus.NORMAL
    assert len(await harness.outbox_ids()) == 1


async def test_unknown_customer_is_none(harness: Harness) -> None:
    async with harness.uow() as tx:
        assert await tx.customers.get("2d5b6b84-ea31-4287-92fc-5c12b4d6f24e") is None


async def test_inbox_recognizes_a_second_delivery_only_after_commit(harness: Harness) -> None:
    async with harness.uow() as tx:
        assert await tx.inbox.first_delivery("evt-1")
    async with harness.uow() as tx:  # the first attempt rolled back: still a first delivery
        assert await tx.inbox.first_delivery("evt-1")
        await tx.commit()
    async with harness.uow() as tx:
        assert not await tx.inbox.first_delivery("evt-1")
        assert await tx.inbox.first_delivery("evt-2")
