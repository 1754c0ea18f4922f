"""Login, lockout and tokens with fakes and an injected clock: the semantics of A6-A10, A14, A16 and T10."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.member.commands import (
    ChangePassword,
    EnrollMember,
    LogIn,
    LogOut,
    RecordCustomerStatus,
    RefreshToken,
    UnlockMember,
)
from domain.member.errors import CustomerNotEligible, InvalidCredentials, InvalidToken, MemberNotLocked, WeakPassword
from domain.member.events import LoginFailed, LoginFailureReason, MemberLocked, MemberTerminated, SessionsRevoked
from domain.member.handlers import MemberApplication, Throttles
from domain.member.lockout import LockoutPolicy
from domain.member.model import MemberStatus
from domain.shared.errors import Overloaded
from tests.fakes import (
    FakeAccountsDirectory,
    FakeClock,
    FakeCommonPasswords,
    FakeMemberLookup,
    FakeMemberStore,
    FakeMemberUnitOfWork,
    FakePasswordHasher,
    FakeThrottle,
    FakeTokenService,
)

PASSWORD = "correct horse battery"
POLICY = LockoutPolicy()


class World:
    def __init__(self) -> None:
        self.store = FakeMemberStore()
        self.clock = FakeClock()
        self.hasher = FakePasswordHasher()
        self.tokens = FakeTokenService()
        self.id_throttle = FakeThrottle()
        self.accounts = FakeAccountsDirectory()
        self.app = MemberApplication(
            lambda: FakeMemberUnitOfWork(self.store),
            FakeMemberLookup(self.store),
            self.hasher,
            self.tokens,
            Throttles(FakeThrottle(), self.id_throttle),
            self.accounts,
            FakeCommonPasswords(),
            self.clock,
            POLICY,
        )

    async def customer(self, status: str = "NORMAL", version: int = 1) -> str:
        customer_id = str(uuid.uuid4())
        await self.customer_event(customer_id, status, version)
        return customer_id

    async def customer_event(self, customer_id: str, status: str, version: int) -> None:
        async with FakeMemberUnitOfWork(self.store) as tx:
            await self.app.record_customer_status(RecordCustomerStatus(customer_id, status, version), tx)
            await tx.commit()

    async def enrolled(self, banking_id: str = "alice", password: str = PASSWORD) -> tuple[str, str]:
        customer_id = await self.customer()
        member = await self.app.enroll_member(EnrollMember(customer_id, banking_id, password))
        return customer_id, member.member_id

    def login(self, banking_id: str = "alice", password: str = PASSWORD):  # type: ignore[no-untyped-def]
        return self.app.log_in(LogIn(banking_id, password, "127.0.0.1"))

    async def fails(self, banking_id: str = "alice", password: str = "wrong password!") -> None:
        with pytest.raises(InvalidCredentials):
            await self.login(banking_id, password)

    def member(self, member_id: str):  # type: ignore[no-untyped-def]
        return self.store.members[member_id]

    def failures(self) -> list[LoginFailed]:
        return [e for e in self.store.outbox if isinstance(e, LoginFailed)]


@pytest.fixture
def world() -> World:
    return World()


async def test_login_returns_tokens_and_the_accounts_snapshot(world: World) -> None:
    customer_id, _ = await world.enrolled()
    result = await world.login(" ALICE ")
    assert result.tokens.access_token and result.tokens.refresh_token
    assert world.accounts.asked == [customer_id]


async def test_n_minus_1_failures_then_success_resets_the_counter(world: World) -> None:
    _, member_id = await world.enrolled()
    for _ in range(POLICY.max_failures - 1):
        await world.fails()
    assert world.member(member_id).failed_attempts == POLICY.max_failures - 1
    await world.login()
    assert world.member(member_id).failed_attempts == 0
    for _ in range(POLICY.max_failures - 1):  # the count starts over: still not locked
        await world.fails()
    assert world.member(member_id).status is MemberStatus.NORMAL


async def test_locked_at_n_correct_password_refused_until_the_wait_is_over(world: World) -> None:
    _, member_id = await world.enrolled()
    for _ in range(POLICY.max_failures):
        await world.fails()
    assert world.member(member_id).status is MemberStatus.LOCKED
    await world.fails(password=PASSWORD)  # the right password, refused with the same error while locked
    for _ in range(10):
        await world.fails()  # failures while locked do not count and do not lengthen the lock
    assert world.member(member_id).failed_attempts == 0
    assert sum(isinstance(e, MemberLocked) for e in world.store.outbox) == 1
    world.clock.advance(seconds=POLICY.first_lock.total_seconds() - 1)
    await world.fails(password=PASSWORD)
    world.clock.advance(seconds=1)
    await world.login()


async def test_lock_waits_grow_cap_and_turn_permanent(world: World) -> None:
    _, member_id = await world.enrolled()
    waits = []
    for _lock in range(POLICY.permanent_after_locks):
        for _ in range(POLICY.max_failures):
            await world.fails()
        member = world.member(member_id)
        assert member.status is MemberStatus.LOCKED
        if member.locked_until is None:
            break
        waits.append(member.locked_until - world.clock.now())
        world.clock.current = member.locked_until
    assert [w.total_seconds() / 60 for w in waits] == [5, 10, 20, 40]
    assert world.member(member_id).locked_until is None  # the 5th lock is permanent
    world.clock.advance(days=30)
    await world.fails(password=PASSWORD)
    await world.app.unlock_member(UnlockMember(member_id))
    await world.login()
    with pytest.raises(MemberNotLocked):
        await world.app.unlock_member(UnlockMember(member_id))


async def test_lock_duration_caps_at_the_maximum() -> None:
    assert POLICY.lock_duration(1).total_seconds() == 300
    assert POLICY.lock_duration(10) == POLICY.max_lock


async def test_failures_outside_the_reset_window_are_forgotten(world: World) -> None:
    _, member_id = await world.enrolled()
    for _ in range(POLICY.max_failures - 1):
        await world.fails()
    world.clock.advance(seconds=POLICY.reset_window.total_seconds() + 1)
    await world.fails()
    assert world.member(member_id).failed_attempts == 1
    assert world.member(member_id).status is MemberStatus.NORMAL


async def test_the_lock_survives_a_restart(world: World) -> None:
    _, _member_id = await world.enrolled()
    for _ in range(POLICY.max_failures):
        await world.fails()
    restarted = World()
    restarted.store, restarted.clock = world.store, world.clock
    restarted.app._uow = lambda: FakeMemberUnitOfWork(world.store)  # same storage, new process
    await restarted.fails(password=PASSWORD)


async def test_100_concurrent_wrong_passwords_record_at_most_n_failures_and_no_success(world: World) -> None:
    _, member_id = await world.enrolled()
    outcomes = await asyncio.gather(
        *(world.login(password=f"wrong password {i:03}") for i in range(100)), return_exceptions=True
    )
    assert all(isinstance(o, InvalidCredentials) for o in outcomes)
    counted = [e for e in world.failures() if e.consecutive_failures > 0]
    assert len(counted) <= POLICY.max_failures + 1
    assert world.member(member_id).status is MemberStatus.LOCKED


async def test_six_failure_causes_give_the_identical_answer(world: World) -> None:
    await world.enrolled("alice")
    _customer_id, _ = await world.enrolled("bobby")
    for _ in range(POLICY.max_failures):
        await world.fails("bobby")
    terminated_id, _ = await world.enrolled("carol")
    await world.customer_event(terminated_id, "TERMINATED", 2)
    suspended_id, _ = await world.enrolled("dave1")
    await world.customer_event(suspended_id, "SUSPENDED", 2)
    attempts = [
        ("nobody", PASSWORD),  # unknown banking id
        ("alice", "wrong password!"),  # wrong password
        ("bobby", PASSWORD),  # locked
        ("carol", PASSWORD),  # member terminated with its customer
        ("dave1", PASSWORD),  # customer suspended
        ("alice", ""),  # empty password
    ]
    answers = []
    for banking_id, password in attempts:
        with pytest.raises(InvalidCredentials) as refused:
            await world.login(banking_id, password)
        answers.append((type(refused.value), refused.value.message, refused.value.args))
    assert len(set(answers)) == 1
    reasons = [e.reason for e in world.failures()[-6:]]
    assert reasons == [
        LoginFailureReason.UNKNOWN_BANKING_ID,
        LoginFailureReason.WRONG_PASSWORD,
        LoginFailureReason.LOCKED,
        LoginFailureReason.TERMINATED,
        LoginFailureReason.CUSTOMER_NOT_NORMAL,
        LoginFailureReason.MALFORMED,
    ]


async def test_unknown_id_path_runs_exactly_one_dummy_verify(world: World) -> None:
    await world.enrolled()
    await world.fails("nobody", PASSWORD)
    assert (world.hasher.dummy_verifies, world.hasher.verifies) == (1, 0)
    await world.fails("alice", "wrong password!")
    assert (world.hasher.dummy_verifies, world.hasher.verifies) == (1, 1)


async def test_over_long_and_empty_passwords_are_refused_without_hashing(world: World) -> None:
    await world.enrolled()
    for password in ["", "x" * 129, "x" * 1_000_000]:
        await world.fails(password=password)
    assert world.hasher.verifies == world.hasher.dummy_verifies == 0


async def test_customer_status_replica_fails_closed_and_follows_versions(world: World) -> None:
    customer_id, _ = await world.enrolled()
    await world.customer_event(customer_id, "SUSPENDED", 3)
    await world.customer_event(customer_id, "NORMAL", 2)  # stale: ignored
    await world.fails(password=PASSWORD)
    await world.customer_event(customer_id, "NORMAL", 4)
    await world.login()
    with pytest.raises(CustomerNotEligible):  # never seen by the replica: cannot enroll
        await world.app.enroll_member(EnrollMember(str(uuid.uuid4()), "eve12", PASSWORD))


async def test_termination_terminates_the_member_and_revokes_every_session(world: World) -> None:
    customer_id, member_id = await world.enrolled()
    first, second = await world.login(), await world.login()
    await world.customer_event(customer_id, "TERMINATED", 2)
    await world.customer_event(customer_id, "TERMINATED", 2)  # delivered twice: no second cascade
    assert world.member(member_id).status is MemberStatus.TERMINATED
    assert sum(isinstance(e, MemberTerminated) for e in world.store.outbox) == 1
    [revoked] = [e for e in world.store.outbox if isinstance(e, SessionsRevoked)]
    assert revoked.all_sessions and len(revoked.session_ids) == 2
    for result in (first, second):
        with pytest.raises(InvalidToken):
            await world.app.refresh_token(RefreshToken(result.tokens.refresh_token))
        with pytest.raises(InvalidToken):
            await world.app.log_out(LogOut(result.tokens.access_token))
    await world.fails(password=PASSWORD)


async def test_refresh_rotates_and_reuse_revokes_the_session(world: World) -> None:
    await world.enrolled()
    login = await world.login()
    rotated = await world.app.refresh_token(RefreshToken(login.tokens.refresh_token))
    again = await world.app.refresh_token(RefreshToken(rotated.refresh_token))
    with pytest.raises(InvalidToken):  # the first token again: stolen, so the session ends
        await world.app.refresh_token(RefreshToken(login.tokens.refresh_token))
    with pytest.raises(InvalidToken):
        await world.app.refresh_token(RefreshToken(again.refresh_token))
    with pytest.raises(InvalidToken):
        await world.app.authenticate(again.access_token)


async def test_logout_revokes_the_session(world: World) -> None:
    await world.enrolled()
    login = await world.login()
    await world.app.log_out(LogOut(login.tokens.access_token))
    with pytest.raises(InvalidToken):
        await world.app.authenticate(login.tokens.access_token)
    with pytest.raises(InvalidToken):
        await world.app.refresh_token(RefreshToken(login.tokens.refresh_token))


async def test_change_password_needs_the_current_one_and_revokes_other_sessions(world: World) -> None:
    await world.enrolled()
    other, mine = await world.login(), await world.login()
    new = "a new and longer passphrase"
    with pytest.raises(InvalidCredentials):
        await world.app.change_password(ChangePassword(mine.tokens.access_token, "not my password", new))
    with pytest.raises(WeakPassword):
        await world.app.change_password(ChangePassword(mine.tokens.access_token, PASSWORD, "short"))
    with pytest.raises(WeakPassword):
        await world.app.change_password(ChangePassword(mine.tokens.access_token, PASSWORD, PASSWORD))
    await world.app.change_password(ChangePassword(mine.tokens.access_token, PASSWORD, new))
    with pytest.raises(InvalidToken):
        await world.app.authenticate(other.tokens.access_token)
    await world.app.authenticate(mine.tokens.access_token)
    await world.fails(password=PASSWORD)
    await world.login(password=new)


async def test_a_stale_hash_is_upgraded_at_the_next_successful_login(world: World) -> None:
    _, member_id = await world.enrolled()
    world.hasher.version = "v3"
    await world.login()
    assert world.member(member_id).password_hash.startswith("v3$")
    await world.login()


async def test_overload_is_refused_before_any_hashing(world: World) -> None:
    await world.enrolled()
    world.hasher.capacity = 0
    with pytest.raises(Overloaded) as refused:
        await world.login()
    assert refused.value.retry_after_seconds >= 1
    assert world.hasher.verifies == 0


async def test_per_banking_id_throttle_counts_one_bucket_for_every_spelling(world: World) -> None:
    await world.enrolled()
    for spelling in ["Alice", " alice ", "ＡＬＩＣＥ", "alice"]:
        await world.login(spelling)
    assert world.id_throttle.counts == {"alice": 4}
