"""One suite, every store of the my_accounts view (the fake, SQLite read through its own driver, PostgreSQL,
Redis): what the projector
commits through the unit of work is what the ViewReader answers. Only newer changes apply (the store itself
compares sequences and versions, not only the projector); replays and duplicates change nothing; the inbox
knows a delivered event once its batch commits and not before; a batch is applied whole or not at all and
reads its own writes; closed accounts leave the customer's list but stay in page(); revocations, standings,
the freshness mark and paging round-trip exactly. The Redis-only tests at the end cover what only a store
shared by racing projectors and a remote server has: a concurrent commit of the same event, and an outage."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.outbound.redis.my_accounts import ConcurrentProjection, RedisView
from adapters.outbound.sqlalchemy import my_accounts as tables
from adapters.outbound.sqlalchemy.uow import Storage
from adapters.outbound.sqlite.my_accounts import SqliteViewReader
from domain.account.model import MAX_BALANCE
from domain.my_accounts.events import AccountClosed, AccountOpened, BalanceChanged, SessionsRevoked
from domain.my_accounts.handlers import Projector
from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus
from domain.my_accounts.ports import ViewReader
from domain.shared.errors import DependencyUnavailable
from domain.shared.standing import CustomerStanding, CustomerStatus
from tests.conftest import free_port
from tests.databases import fresh_engine
from tests.fakes import FakeClock, FakeView

T0 = datetime(2026, 11, 26, 9, 0, 0, 123_456, tzinfo=UTC)  # microseconds must survive every store
clock = FakeClock(T0)
projector = Projector()


@dataclass
class Harness:
    uow: Callable[[], Any]  # a ProjectionUnitOfWork
    reader: ViewReader
    mark_caught_up: Callable[[datetime], Awaitable[None]]


@pytest.fixture(params=["fake", "sqlite", "postgres", pytest.param("redis", marks=pytest.mark.redis)])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "fake":
        view = FakeView()
        yield Harness(view.uow, view, view.mark_caught_up)
        return
    if request.param in ("sqlite", "postgres"):
        # The service's pairs: SQLite's own driver reads what SQLAlchemy on aiosqlite writes; PostgreSQL is read
        # and written through SQLAlchemy.
        postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
        async with fresh_engine(request.param, tables.metadata, tmp_path, postgres) as engine:
            storage = Storage(engine, None, tables.inbox, None, clock)
            reader = tables.SqlViewReader(engine) if postgres else SqliteViewReader(tmp_path / "my_accounts.db")
            yield Harness(
                lambda: tables.SqlAlchemyProjectionUnitOfWork(storage),
                reader,
                lambda at: tables.mark_caught_up(storage.engine, at),
            )
            if isinstance(reader, SqliteViewReader):
                await reader.close()
        return
    async with redis_store(request.getfixturevalue("redis_url")) as view:
        yield Harness(view.unit_of_work, view.reader, view.mark_caught_up)


@pytest.fixture
async def redis_view(redis_url: str) -> AsyncIterator[RedisView]:
    async with redis_store(redis_url) as view:
        yield view


class redis_store:  # used as `async with redis_store(url) as view`
    """A RedisView under a key prefix of its own, whose keys are deleted afterwards."""

    def __init__(self, url: str) -> None:
        self.view = RedisView.from_url(url, f"test:{uuid.uuid4().hex[:12]}", clock)

    async def __aenter__(self) -> RedisView:
        return self.view

    async def __aexit__(self, *exc: object) -> None:
        keys = [k async for k in self.view.client.scan_iter(match=f"{self.view.prefix}:*")]
        if keys:
            await self.view.client.delete(*keys)
        await self.view.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(number: str, customer_id: str, sequence: int = 1) -> AccountOpened:
    return AccountOpened(number, customer_id, "SAVINGS", sequence, at(0))


async def apply(harness: Harness, *events: object, event_id: str | None = None) -> int:
    """Each event in a transaction of its own, through the inbox as the runner does; returns how many applied."""
    applied = 0
    for event in events:
        async with harness.uow() as tx:
            if await tx.inbox.first_delivery(event_id or str(uuid.uuid4())):
                await handle(event, tx)
                applied += 1
            await tx.commit()
    return applied


async def handle(event: object, tx: Any) -> None:
    handlers: dict[type, Any] = {
        AccountOpened: projector.account_opened,
        BalanceChanged: projector.balance_changed,
        AccountClosed: projector.account_closed,
        SessionsRevoked: projector.sessions_revoked,
    }
    await handlers[type(event)](event, tx)


def summary(accounts: list[ViewedAccount]) -> list[tuple[str, int, int, ViewedAccountStatus]]:
    return [(a.account_number, a.balance, a.sequence, a.status) for a in accounts]


def customer() -> str:
    return str(uuid.uuid4())


async def test_only_newer_changes_apply(harness: Harness) -> None:
    me = customer()
    await apply(
        harness,
        opened("A", me),
        BalanceChanged("A", me, 500, 3, at(3)),
        BalanceChanged("A", me, 100, 2, at(2)),  # late: ignored
        BalanceChanged("A", me, 999, 3, at(3)),  # the same sequence again: ignored
        opened("A", me),  # a replayed opening: ignored
    )
    [account] = await harness.reader.accounts_of(me)
    assert account == ViewedAccount("A", me, "SAVINGS", 500, 3, ViewedAccountStatus.OPEN, at(3))


async def test_the_store_itself_refuses_an_older_or_equal_sequence(harness: Harness) -> None:
    """A second projector (a rebalance) may have read the account before the first one committed: whatever
    it then puts must not move the view backwards. The store compares, not only the projector."""
    me = customer()
    await apply(harness, opened("A", me), BalanceChanged("A", me, 500, 3, at(3)))
    for sequence, balance in [(2, 100), (3, 999)]:
        async with harness.uow() as tx:
            await tx.accounts.put(ViewedAccount("A", me, "SAVINGS", balance, sequence, ViewedAccountStatus.OPEN, at(9)))
            await tx.commit()
    assert summary(await harness.reader.accounts_of(me)) == [("A", 500, 3, ViewedAccountStatus.OPEN)]
    async with harness.uow() as tx:
        await tx.accounts.put(ViewedAccount("A", me, "SAVINGS", 700, 4, ViewedAccountStatus.OPEN, at(4)))
        await tx.commit()
    assert summary(await harness.reader.accounts_of(me)) == [("A", 700, 4, ViewedAccountStatus.OPEN)]


async def test_a_duplicate_delivery_is_ignored(harness: Harness) -> None:
    me = customer()
    await apply(harness, opened("A", me))
    event_id = str(uuid.uuid4())
    assert await apply(harness, BalanceChanged("A", me, 500, 2, at(2)), event_id=event_id) == 1
    # the relay published it twice; even a (made-up) newer payload under the same id is not applied
    assert await apply(harness, BalanceChanged("A", me, 800, 3, at(3)), event_id=event_id) == 0
    assert summary(await harness.reader.accounts_of(me)) == [("A", 500, 2, ViewedAccountStatus.OPEN)]


async def test_the_inbox_knows_an_event_only_once_its_batch_commits(harness: Harness) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    async with harness.uow() as tx:  # not committed: forgotten
        assert await tx.inbox.first_delivery(first)
        assert not await tx.inbox.first_delivery(first)  # twice in one batch: the second is a duplicate
    async with harness.uow() as tx:
        assert await tx.inbox.first_delivery(first)
        assert await tx.inbox.first_delivery(second)
        await tx.commit()
    async with harness.uow() as tx:
        assert not await tx.inbox.first_delivery(first)
        assert not await tx.inbox.first_delivery(second)


async def test_a_batch_reads_its_own_writes_and_lands_whole_or_not_at_all(harness: Harness) -> None:
    me = customer()
    batch = [opened("A", me), BalanceChanged("A", me, 40, 2, at(2)), opened("B", me), AccountClosed("B", me, 2, at(5))]
    async with harness.uow() as tx:  # the runner's fast path: a whole poll in one transaction, then no commit
        for event in batch:
            await handle(event, tx)
        await tx.customers.put(CustomerStanding(me, CustomerStatus.SUSPENDED, 2))
        await tx.revocations.revoke_sessions(("s-1",), at(1))
    assert await harness.reader.accounts_of(me) == [] and await harness.reader.page("", 10) == []
    assert await harness.reader.standing(me) is None
    assert not await harness.reader.is_revoked("s-1", "m-1", at(0))

    async with harness.uow() as tx:
        for event in batch:
            await handle(event, tx)  # the change and the closing read the opening of the same batch
        await tx.commit()
    assert summary(await harness.reader.accounts_of(me)) == [("A", 40, 2, ViewedAccountStatus.OPEN)]
    assert summary(await harness.reader.page("", 10)) == [
        ("A", 40, 2, ViewedAccountStatus.OPEN),
        ("B", 0, 2, ViewedAccountStatus.CLOSED),
    ]


async def test_closed_accounts_leave_the_customers_list_but_stay_in_the_pages(harness: Harness) -> None:
    me, other = customer(), customer()
    await apply(harness, opened("A1", me), opened("A2", me), opened("Z9", other))
    await apply(harness, AccountClosed("A1", me, 2, at(7)))
    assert [a.account_number for a in await harness.reader.accounts_of(me)] == ["A2"]
    assert [a.account_number for a in await harness.reader.accounts_of(other)] == ["Z9"]
    assert await harness.reader.accounts_of(customer()) == []
    closed = (await harness.reader.page("", 1))[0]
    assert closed == ViewedAccount("A1", me, "SAVINGS", 0, 2, ViewedAccountStatus.CLOSED, at(7))
    await apply(harness, AccountClosed("A1", me, 2, at(7)), BalanceChanged("A2", me, 5, 2, at(8)))  # replay
    assert [a.account_number for a in await harness.reader.accounts_of(me)] == ["A2"]


async def test_accounts_come_in_account_number_order_with_every_field_exact(harness: Harness) -> None:
    me = customer()
    numbers = ["110-9", "110-10", "110-1", "220-0", "110-2"]
    await apply(harness, *(opened(n, me) for n in numbers))
    await apply(harness, BalanceChanged("110-2", me, MAX_BALANCE, 2, at(0.000_001)))
    mine = await harness.reader.accounts_of(me)
    assert [a.account_number for a in mine] == sorted(numbers)  # byte order: "110-10" before "110-2"
    big = next(a for a in mine if a.account_number == "110-2")
    assert (big.balance, big.as_of, big.product_code, big.customer_id) == (MAX_BALANCE, at(0.000_001), "SAVINGS", me)
    assert big.as_of.tzinfo is not None and big.as_of.utcoffset() == timedelta(0)


async def test_operators_page_through_every_account(harness: Harness) -> None:
    a, b = customer(), customer()
    await apply(harness, *(opened(f"A{i}", a if i % 2 else b) for i in range(5)))
    await apply(harness, AccountClosed("A3", a, 2, at(1)))
    pages, after = [], ""
    while True:
        page = await harness.reader.page(after, 2)
        pages.append([x.account_number for x in page])
        if len(page) < 2:
            break
        after = page[-1].account_number
    assert pages == [["A0", "A1"], ["A2", "A3"], ["A4"]]
    assert (await harness.reader.page("A2", 1))[0].status is ViewedAccountStatus.CLOSED
    assert await harness.reader.page("A4", 10) == []
    assert [x.account_number for x in await harness.reader.page("A10", 10)] == ["A2", "A3", "A4"]  # any bound
    assert [x.account_number for x in await harness.reader.page("", 100)] == ["A0", "A1", "A2", "A3", "A4"]


async def test_revoked_sessions_and_members(harness: Harness) -> None:
    member = str(uuid.uuid4())
    await apply(harness, SessionsRevoked(member, customer(), ("s-1", "s-2"), False, at(10)))
    assert await harness.reader.is_revoked("s-1", member, at(0))
    assert await harness.reader.is_revoked("s-2", "another member", at(20))  # a session id is revoked outright
    assert not await harness.reader.is_revoked("s-3", member, at(0))

    await apply(harness, SessionsRevoked(member, customer(), (), True, at(10)))
    assert await harness.reader.is_revoked("s-3", member, at(10))  # issued at the revocation instant: revoked
    assert await harness.reader.is_revoked("s-3", member, at(9))
    assert not await harness.reader.is_revoked("s-3", member, at(10.000_001))  # issued after: still valid
    await apply(harness, SessionsRevoked(member, customer(), (), True, at(5)))  # an older one, late: no effect
    assert await harness.reader.is_revoked("s-4", member, at(10))
    await apply(harness, SessionsRevoked(member, customer(), (), True, at(30)))
    assert await harness.reader.is_revoked("s-4", member, at(25))
    assert not await harness.reader.is_revoked("s-4", str(uuid.uuid4()), at(0))


async def test_standings_keep_the_newest_version(harness: Harness) -> None:
    me = customer()
    assert await harness.reader.standing(me) is None
    steps = [  # (status, version) applied -> (status, version) held after it
        (("SUSPENDED", 2), ("SUSPENDED", 2)),
        (("NORMAL", 1), ("SUSPENDED", 2)),  # older: ignored
        (("NORMAL", 2), ("SUSPENDED", 2)),  # the same version again: ignored
        (("TERMINATED", 3), ("TERMINATED", 3)),
        (("NORMAL", 2), ("TERMINATED", 3)),
    ]
    for (status, version), (held_status, held_version) in steps:
        async with harness.uow() as tx:
            await projector.customer_status(me, status, version, tx)
            await tx.commit()
        assert await harness.reader.standing(me) == CustomerStanding(me, CustomerStatus(held_status), held_version)
    async with harness.uow() as tx:  # the store refuses an older version even when asked directly
        await tx.customers.put(CustomerStanding(me, CustomerStatus.NORMAL, 1))
        await tx.commit()
    assert await harness.reader.standing(me) == CustomerStanding(me, CustomerStatus.TERMINATED, 3)


async def test_caught_up_at_is_the_latest_mark(harness: Harness) -> None:
    assert await harness.reader.caught_up_at() is None
    await harness.mark_caught_up(at(1))
    assert await harness.reader.caught_up_at() == at(1)
    await harness.mark_caught_up(at(2.5))
    assert await harness.reader.caught_up_at() == at(2.5)


# -- Redis only ------------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_a_batch_whose_event_another_projector_committed_writes_nothing(redis_view: RedisView) -> None:
    """Two projectors (a rebalance) apply the same event: the later commit sees the inbox entry inside its
    script and writes nothing of its batch, so the runner re-applies it record by record as duplicates."""
    me, event_id = customer(), str(uuid.uuid4())
    async with redis_view.unit_of_work() as first, redis_view.unit_of_work() as second:
        for tx in (first, second):
            assert await tx.inbox.first_delivery(event_id)
            await handle(opened("A", me), tx)
        await first.inbox.first_delivery("other event")
        await second.revocations.revoke_sessions(("s-1",), at(0))
        await second.commit()
        with pytest.raises(ConcurrentProjection):
            await first.commit()
    assert summary(await redis_view.reader.accounts_of(me)) == [("A", 0, 1, ViewedAccountStatus.OPEN)]
    async with redis_view.unit_of_work() as tx:
        assert await tx.inbox.first_delivery("other event")  # the refused batch left no inbox entry either


@pytest.mark.redis
async def test_redis_an_unreachable_server_is_a_dependency_outage() -> None:
    view = RedisView.from_url(f"redis://127.0.0.1:{free_port()}/0", "test:down", clock)
    try:
        with pytest.raises(DependencyUnavailable):
            await view.reader.accounts_of(customer())
        with pytest.raises(DependencyUnavailable):
            await view.ping()
        async with view.unit_of_work() as tx:
            with pytest.raises(DependencyUnavailable):
                await tx.inbox.first_delivery("e-1")
    finally:
        await view.close()


async def test_sqlite_a_view_that_cannot_be_read_answers_unavailable_and_says_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's reader: a file it cannot open (here, a directory in its place) is DependencyUnavailable, the
    log names the error's class only; once the file is there, the next read works."""
    path = tmp_path / "my_accounts.db"
    path.mkdir()
    reader = SqliteViewReader(path)
    with pytest.raises(DependencyUnavailable) as refused:
        await reader.accounts_of(str(uuid.uuid4()))
    assert str(path) not in str(refused.value) and str(path) not in caplog.text
    assert "OperationalError" in caplog.text and "SELECT" not in caplog.text
    path.rmdir()
    async with fresh_engine("sqlite", tables.metadata, tmp_path, None):
        assert await reader.accounts_of(str(uuid.uuid4())) == []
    await reader.close()
