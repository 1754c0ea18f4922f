"""One suite, every implementation of the member unit of work (the fake and SQLAlchemy on SQLite and
PostgreSQL, each test on a fresh, migrated database or schema): members are
found by id, banking id and customer through one identity map; sessions are found by their current and their
spent refresh digests; the customer-status replica keeps the newest version; what is committed is stored with
its events (aggregate events first, then those recorded on the unit of work); what is not committed leaves
no trace; the inbox recognizes a second delivery only after commit."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.outbound.events.member import member_events
from adapters.outbound.sqlalchemy import member as tables
from adapters.outbound.sqlalchemy.engine import create_reader
from adapters.outbound.sqlalchemy.member import SqlAlchemyMemberUnitOfWork, SqlMemberLookup
from adapters.outbound.sqlalchemy.uow import Storage
from domain.member.events import LoginFailed, LoginFailureReason, RevocationReason, SessionsRevoked
from domain.member.lockout import LockoutPolicy
from domain.member.model import BankingMember, CustomerStanding, CustomerStatus, MemberStatus
from domain.member.session import Session
from domain.shared.errors import AlreadyExists, DependencyUnavailable
from domain.shared.ids import new_id
from tests.databases import BACKENDS, fresh_engine
from tests.fakes import FakeClock, FakeMemberLookup, FakeMemberStore, FakeMemberUnitOfWork

clock = FakeClock()
POLICY = LockoutPolicy()


@dataclass
class Harness:
    uow: Callable[[], Any]
    outbox_ids: Callable[[], Awaitable[list[str]]]  # event ids committed to the outbox, in order
    lookup: Any  # the MemberLookup port on the same data


@pytest.fixture(params=["fake", *BACKENDS])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with contextlib.AsyncExitStack() as stack:
        async for harness in _harness(request, tmp_path, stack):
            yield harness


async def _harness(
    request: pytest.FixtureRequest, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> AsyncIterator[Harness]:
    if request.param == "fake":
        store = FakeMemberStore()

        async def fake_ids() -> list[str]:
            return [e.event_id for e in store.outbox]

        yield Harness(lambda: FakeMemberUnitOfWork(store), fake_ids, FakeMemberLookup(store))
        return
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    engine = await stack.enter_async_context(fresh_engine(request.param, tables.metadata, tmp_path, postgres))
    storage = Storage(engine, tables.outbox, tables.inbox, member_events, clock)

    async def sql_ids() -> list[str]:
        async with engine.connect() as conn:
            return list(
                (await conn.execute(select(tables.outbox.c.event_id).order_by(tables.outbox.c.position))).scalars()
            )

    # SQLite's reader is its own synchronous engine on the file; PostgreSQL's is the async engine (its schema).
    reader = engine if postgres else create_reader(str(engine.url))
    stack.callback(lambda: None if reader is engine else reader.dispose())
    yield Harness(lambda: SqlAlchemyMemberUnitOfWork(storage), sql_ids, SqlMemberLookup(reader))


def a_member(banking_id: str = "alice", customer_id: str | None = None) -> BankingMember:
    return BankingMember.enroll(customer_id or str(uuid.uuid4()), banking_id, "hash$of-a-password", clock.now())


def ids(events: list[Any]) -> list[str]:
    return [e.event_id for e in events]


async def enrolled(harness: Harness, banking_id: str = "alice", customer_id: str | None = None) -> BankingMember:
    member = a_member(banking_id, customer_id)
    async with harness.uow() as tx:
        await tx.members.add(member)
        await tx.commit()
    return member


async def opened(harness: Harness, member: BankingMember, digest: str) -> Session:
    session = Session.open(member.member_id, member.customer_id, digest, clock.now())
    async with harness.uow() as tx:
        await tx.sessions.add(session)
        await tx.commit()
    return session


# -- members ------------------------------------------------------------------------------------------------


async def test_committed_member_is_found_by_id_banking_id_and_customer(harness: Harness) -> None:
    member = a_member("alice")
    enrolled_ids = ids(member.pending_events)
    async with harness.uow() as tx:
        await tx.members.add(member)
        await tx.commit()
    async with harness.uow() as tx:
        by_id = await tx.members.get(member.member_id)
        by_banking_id = await tx.members.by_banking_id("alice")
        of_customer = await tx.members.of_customer(member.customer_id)
    assert by_id is not None
    assert (by_id.member_id, by_id.customer_id, by_id.banking_id, by_id.password_hash) == (
        member.member_id,
        member.customer_id,
        "alice",
        "hash$of-a-password",
    )
    assert (by_id.status, by_id.failed_attempts, by_id.lock_count, by_id.version) == (MemberStatus.NORMAL, 0, 0, 1)
    assert (by_id.last_failure_at, by_id.locked_until, by_id.enrolled_at) == (None, None, member.enrolled_at)
    assert by_banking_id is by_id  # one unit of work, one object per member
    assert of_customer == [by_id]
    assert await harness.outbox_ids() == enrolled_ids


async def test_unknown_member_is_none(harness: Harness) -> None:
    await enrolled(harness, "alice")
    async with harness.uow() as tx:
        assert await tx.members.get(new_id()) is None
        assert await tx.members.by_banking_id("nobody") is None
        assert await tx.members.by_banking_id("ALICE") is None  # canonical ids only: callers canonicalize
        assert await tx.members.of_customer(str(uuid.uuid4())) == []


async def test_the_lookup_reads_what_is_committed_without_a_unit_of_work(harness: Harness) -> None:
    member = a_member("alice")
    async with harness.uow() as tx:
        await tx.members.add(member)
        assert await harness.lookup.by_banking_id("alice") is None  # not committed yet
        await tx.commit()
    found = await harness.lookup.by_banking_id("alice")
    assert found is not None
    assert (found.member_id, found.customer_id, found.password_hash, found.status, found.version) == (
        member.member_id,
        member.customer_id,
        "hash$of-a-password",
        MemberStatus.NORMAL,
        1,
    )
    assert (found.last_failure_at, found.locked_until, found.enrolled_at) == (None, None, member.enrolled_at)
    assert found.pending_events == []  # read from storage, not enrolled again
    assert await harness.lookup.by_banking_id("nobody") is None
    assert await harness.lookup.by_banking_id("ALICE") is None  # canonical ids only
    async with harness.uow() as tx:  # a unit of work holding the write lock does not hold the lookup up
        changed = await tx.members.get(member.member_id)
        changed.record_failure(LoginFailureReason.WRONG_PASSWORD, POLICY, clock.now())
        assert (await harness.lookup.by_banking_id("alice")).failed_attempts == 0
        await tx.commit()
    assert (await harness.lookup.by_banking_id("alice")).failed_attempts == 1


async def test_identity_map_a_change_through_either_lookup_is_committed_once(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    before = await harness.outbox_ids()
    async with harness.uow() as tx:
        first = await tx.members.get(member.member_id)
        second = await tx.members.by_banking_id("alice")
        assert first is second
        second.record_failure(LoginFailureReason.WRONG_PASSWORD, POLICY, clock.now())
        failure_ids = ids(first.pending_events)
        assert len(failure_ids) == 1
        await tx.commit()
    async with harness.uow() as tx:
        stored = await tx.members.get(member.member_id)
        assert (stored.failed_attempts, stored.version) == (1, 2)
        assert stored.last_failure_at == clock.now()
        await tx.commit()  # nothing changed: nothing published again
    assert len(before) == 1
    assert await harness.outbox_ids() == [*before, *failure_ids]


async def test_uncommitted_work_leaves_no_trace(harness: Harness) -> None:
    member = a_member("alice")
    session = Session.open(member.member_id, member.customer_id, "digest-1", clock.now())
    async with harness.uow() as tx:
        await tx.members.add(member)
        await tx.sessions.add(session)
        await tx.customers.put(CustomerStanding(member.customer_id, CustomerStatus.NORMAL, 1))
        tx.record(a_revocation(member, session))
        assert await tx.inbox.first_delivery("evt-1")
    async with harness.uow() as tx:
        assert await tx.members.get(member.member_id) is None
        assert await tx.members.by_banking_id("alice") is None
        assert await tx.sessions.get(session.session_id) is None
        assert await tx.sessions.by_refresh_digest("digest-1") is None
        assert await tx.customers.get(member.customer_id) is None
        assert await tx.inbox.first_delivery("evt-1")
    assert await harness.outbox_ids() == []


async def test_a_rolled_back_change_is_not_stored(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    async with harness.uow() as tx:
        (await tx.members.get(member.member_id)).terminate(clock.now())
    async with harness.uow() as tx:
        stored = await tx.members.get(member.member_id)
        assert (stored.status, stored.version) == (MemberStatus.NORMAL, 1)
    assert len(await harness.outbox_ids()) == 1


async def test_a_second_member_with_the_same_banking_id_fails_at_commit(harness: Harness) -> None:
    first = await enrolled(harness, "alice")
    second = a_member("alice")
    async with harness.uow() as tx:
        await tx.members.add(second)  # accepted here: the unique banking id is enforced at commit
        with pytest.raises(AlreadyExists):
            await tx.commit()
    async with harness.uow() as tx:
        assert (await tx.members.by_banking_id("alice")).member_id == first.member_id
        assert await tx.members.get(second.member_id) is None
    assert len(await harness.outbox_ids()) == 1  # only the first member's MemberEnrolled


async def test_two_new_members_with_one_banking_id_fail_together(harness: Harness) -> None:
    async with harness.uow() as tx:
        await tx.members.add(a_member("bob1"))
        await tx.members.add(a_member("bob1"))
        with pytest.raises(AlreadyExists):
            await tx.commit()
    async with harness.uow() as tx:
        assert await tx.members.by_banking_id("bob1") is None
    assert await harness.outbox_ids() == []


# -- sessions -----------------------------------------------------------------------------------------------


async def test_sessions_are_found_by_id_and_active_of_member_excludes_revoked_ones(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    other = await enrolled(harness, "bobby")
    kept = await opened(harness, member, "digest-kept")
    revoked = await opened(harness, member, "digest-revoked")
    await opened(harness, other, "digest-other")
    async with harness.uow() as tx:
        (await tx.sessions.get(revoked.session_id)).revoke(RevocationReason.LOGOUT, clock.now())
        await tx.commit()
    async with harness.uow() as tx:
        stored = await tx.sessions.get(kept.session_id)
        assert (stored.member_id, stored.customer_id, stored.refresh_digest) == (
            member.member_id,
            member.customer_id,
            "digest-kept",
        )
        assert (stored.created_at, stored.expires_at, stored.revoked_at, stored.version) == (
            kept.created_at,
            kept.expires_at,
            None,
            1,
        )
        gone = await tx.sessions.get(revoked.session_id)
        assert (gone.revoked_at, gone.version) == (clock.now(), 2)
        active = await tx.sessions.active_of_member(member.member_id)
        assert [s.session_id for s in active] == [kept.session_id]
        assert active[0] is stored  # the identity map covers sessions too
        assert await tx.sessions.get(new_id()) is None


async def test_a_session_is_found_by_its_current_and_its_spent_refresh_digest(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    session = await opened(harness, member, "digest-1")
    async with harness.uow() as tx:
        found = await tx.sessions.by_refresh_digest("digest-1")
        assert found is not None and found.session_id == session.session_id
        found.rotate("digest-2")
        await tx.commit()
    async with harness.uow() as tx:
        by_current = await tx.sessions.by_refresh_digest("digest-2")
        by_spent = await tx.sessions.by_refresh_digest("digest-1")
        assert by_current is not None and by_current is by_spent
        assert by_spent.session_id == session.session_id
        assert by_spent.refresh_digest == "digest-2" != "digest-1"  # the spent digest is not current any more
        assert by_spent.version == 2
        assert await tx.sessions.by_refresh_digest("digest-never-issued") is None


async def test_every_spent_digest_is_kept_across_several_rotations(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    session = await opened(harness, member, "digest-1")
    for old, new in [("digest-1", "digest-2"), ("digest-2", "digest-3")]:
        async with harness.uow() as tx:
            (await tx.sessions.by_refresh_digest(old)).rotate(new)
            await tx.commit()
    async with harness.uow() as tx:
        for digest in ("digest-1", "digest-2", "digest-3"):
            found = await tx.sessions.by_refresh_digest(digest)
            assert found is not None and found.session_id == session.session_id, digest
            assert found.refresh_digest == "digest-3"


async def test_an_uncommitted_rotation_keeps_the_old_digest_current(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    await opened(harness, member, "digest-1")
    async with harness.uow() as tx:
        (await tx.sessions.by_refresh_digest("digest-1")).rotate("digest-2")
    async with harness.uow() as tx:
        assert (await tx.sessions.by_refresh_digest("digest-1")).refresh_digest == "digest-1"
        assert await tx.sessions.by_refresh_digest("digest-2") is None


# -- the customer-status replica -------------------------------------------------------------------------------


async def test_customer_standings_put_then_get(harness: Harness) -> None:
    customer_id = str(uuid.uuid4())
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) is None
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.NORMAL, 1))
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.NORMAL, 1)
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 2))
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 2)
    assert await harness.outbox_ids() == []  # the replica publishes nothing


async def test_a_standing_never_goes_back_to_an_older_or_equal_version(harness: Harness) -> None:
    """The adapter itself keeps the newest version (an upsert guarded by the version), whatever the caller
    checked before: a late, stale event cannot overwrite a newer status."""
    customer_id = str(uuid.uuid4())
    async with harness.uow() as tx:
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.TERMINATED, 4))
        await tx.commit()
    async with harness.uow() as tx:
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 2))  # older
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.NORMAL, 4))  # same version
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.TERMINATED, 4)


async def test_within_one_unit_of_work_the_newest_put_wins(harness: Harness) -> None:
    customer_id = str(uuid.uuid4())
    async with harness.uow() as tx:
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 3))
        await tx.customers.put(CustomerStanding(customer_id, CustomerStatus.NORMAL, 1))
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 3)
        await tx.commit()
    async with harness.uow() as tx:
        assert await tx.customers.get(customer_id) == CustomerStanding(customer_id, CustomerStatus.SUSPENDED, 3)


# -- events and the inbox -----------------------------------------------------------------------------------


def a_revocation(member: BankingMember, session: Session) -> SessionsRevoked:
    return SessionsRevoked(
        event_id=new_id(),
        occurred_at=clock.now(),
        customer_id=member.customer_id,
        member_id=member.member_id,
        session_ids=(session.session_id,),
        all_sessions=True,
        reason=RevocationReason.MEMBER_TERMINATED,
    )


async def test_aggregate_events_are_committed_before_recorded_ones_each_once(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    session = await opened(harness, member, "digest-1")
    before = await harness.outbox_ids()
    async with harness.uow() as tx:
        loaded = await tx.members.get(member.member_id)
        recorded = a_revocation(member, session)
        tx.record(recorded)  # recorded first, published last
        loaded.record_failure(LoginFailureReason.WRONG_PASSWORD, POLICY, clock.now())
        loaded.terminate(clock.now())
        member_events_ = ids(loaded.pending_events)
        live = await tx.sessions.get(session.session_id)
        live.revoke(RevocationReason.MEMBER_TERMINATED, clock.now())
        session_events = ids(live.pending_events)
        await tx.commit()
        assert loaded.pending_events == [] and live.pending_events == []  # handed over once
    async with harness.uow() as tx:  # a later transaction must not publish the same events again
        await tx.members.get(member.member_id)
        await tx.sessions.get(session.session_id)
        await tx.commit()
    assert len(member_events_) == 2 and len(session_events) == 1
    assert await harness.outbox_ids() == [*before, *member_events_, *session_events, recorded.event_id]


async def test_a_login_failure_of_an_unknown_banking_id_is_recorded_without_an_aggregate(harness: Harness) -> None:
    event = LoginFailed(
        event_id=new_id(),
        occurred_at=clock.now(),
        customer_id="",
        member_id="",
        reason=LoginFailureReason.UNKNOWN_BANKING_ID,
        consecutive_failures=0,
    )
    async with harness.uow() as tx:
        tx.record(event)
        await tx.commit()
    async with harness.uow() as tx:
        await tx.commit()  # recorded events are handed over once too
    assert await harness.outbox_ids() == [event.event_id]


async def test_inbox_recognizes_a_second_delivery_only_after_commit(harness: Harness) -> None:
    async with harness.uow() as tx:
        assert await tx.inbox.first_delivery("evt-1")
        assert not await tx.inbox.first_delivery("evt-1")  # twice in one transaction: the second is a duplicate
    async with harness.uow() as tx:  # the first attempt rolled back: still a first delivery
        assert await tx.inbox.first_delivery("evt-1")
        await tx.commit()
    async with harness.uow() as tx:
        assert not await tx.inbox.first_delivery("evt-1")
        assert await tx.inbox.first_delivery("evt-2")


async def test_a_session_rotated_twice_in_one_unit_of_work_keeps_both_spent_digests(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    session = await opened(harness, member, "digest-1")
    async with harness.uow() as tx:
        live = await tx.sessions.get(session.session_id)
        live.rotate("digest-2")
        live.rotate("digest-3")
        await tx.commit()
    async with harness.uow() as tx:
        for digest in ("digest-1", "digest-2", "digest-3"):
            found = await tx.sessions.by_refresh_digest(digest)
            assert found is not None and found.refresh_digest == "digest-3", digest


async def test_a_new_session_rotated_before_commit_keeps_its_first_digest(harness: Harness) -> None:
    member = await enrolled(harness, "alice")
    session = Session.open(member.member_id, member.customer_id, "digest-1", clock.now())
    async with harness.uow() as tx:
        await tx.sessions.add(session)
        session.rotate("digest-2")
        await tx.commit()
    async with harness.uow() as tx:
        for digest in ("digest-1", "digest-2"):
            found = await tx.sessions.by_refresh_digest(digest)
            assert found is not None and found.session_id == session.session_id, digest


async def test_sqlite_a_lookup_that_cannot_read_answers_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "member.db"
    path.mkdir()  # a directory where the file should be: SQLite cannot open it
    reader = create_reader(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(DependencyUnavailable):
            await SqlMemberLookup(reader).by_banking_id("alice")
    finally:
        reader.dispose()
