"""The member context's use cases: enrollment, login, tokens, password change, unlock, and the customer
status replica (with the termination cascade).

Login answers every failure with the one InvalidCredentials; the cause goes only to the LoginFailed event.
Its costs do not depend on the cause either: an unknown banking id is verified against a dummy hash once,
a locked or terminated member's password is still verified. The hash runs outside any database
transaction, so a slow hash never holds the write lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.member.banking_id import canonical_banking_id
from domain.member.commands import (
    ChangePassword,
    EnrollMember,
    LogIn,
    LogOut,
    RecordCustomerStatus,
    RefreshToken,
    UnlockMember,
)
from domain.member.errors import (
    BankingIdTaken,
    CustomerAlreadyEnrolled,
    CustomerNotEligible,
    InvalidCredentials,
    InvalidToken,
    MemberNotFound,
    WeakPassword,
)
from domain.member.events import LoginFailed, LoginFailureReason, RevocationReason, SessionsRevoked
from domain.member.lockout import LockoutPolicy
from domain.member.model import BankingMember, CustomerStanding, CustomerStatus
from domain.member.passwords import CommonPasswords, check_new_password, normalize_password
from domain.member.ports import (
    AccessClaims,
    AccountsDirectory,
    AccountsSnapshot,
    MemberLookup,
    MemberUnitOfWork,
    PasswordHasher,
    Throttle,
    TokenService,
)
from domain.member.session import Session
from domain.shared.clock import Clock
from domain.shared.errors import InvalidArgument
from domain.shared.ids import new_id, parse_id

MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, repr=False)
class Tokens:
    access_token: str
    expires_in_seconds: int
    refresh_token: str


@dataclass(frozen=True, repr=False)
class LoginResult:
    tokens: Tokens
    accounts: AccountsSnapshot


@dataclass(frozen=True)
class Throttles:
    """Guessing limits beside the lockout: per source address, and per banking id (existing or not)."""

    per_source: Throttle
    per_banking_id: Throttle


class MemberApplication:
    def __init__(
        self,
        uow: Callable[[], MemberUnitOfWork],
        members: MemberLookup,
        hasher: PasswordHasher,
        tokens: TokenService,
        throttles: Throttles,
        accounts: AccountsDirectory,
        common_passwords: CommonPasswords,
        clock: Clock,
        policy: LockoutPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._members = members
        self._hasher = hasher
        self._tokens = tokens
        self._throttles = throttles
        self._accounts = accounts
        self._common = common_passwords
        self._clock = clock
        self._policy = policy or LockoutPolicy()

    # -- enrollment -------------------------------------------------------------------------------------

    async def enroll_member(self, cmd: EnrollMember) -> BankingMember:
        """For an existing customer in NORMAL status (per the replica), with a policy-conforming password."""
        customer_id = parse_id(cmd.customer_id, "customer_id")
        banking_id = canonical_banking_id(cmd.banking_id)
        password = check_new_password(cmd.password, banking_id, self._common)
        async with self._uow() as tx:
            await self._check_enrollable(tx, customer_id, banking_id)
        async with self._hasher.admit():
            password_hash = await self._hasher.hash(password)
        async with self._uow() as tx:
            await self._check_enrollable(tx, customer_id, banking_id)  # again: the first read held no lock
            member = BankingMember.enroll(customer_id, banking_id, password_hash, self._clock.now())
            await tx.members.add(member)
            await tx.commit()
        return member

    @staticmethod
    async def _check_enrollable(tx: MemberUnitOfWork, customer_id: str, banking_id: str) -> None:
        standing = await tx.customers.get(customer_id)
        if standing is None or not standing.is_normal():
            raise CustomerNotEligible()
        if await tx.members.by_banking_id(banking_id) is not None:
            raise BankingIdTaken()
        if await tx.members.of_customer(customer_id):
            raise CustomerAlreadyEnrolled()

    # -- login ------------------------------------------------------------------------------------------

    async def log_in(self, cmd: LogIn) -> LoginResult:
        self._throttles.per_source.check(cmd.source)
        async with self._hasher.admit():
            member, tokens = await self._authenticate(cmd)
        return LoginResult(tokens, await self._accounts.snapshot(member.customer_id))

    async def _authenticate(self, cmd: LogIn) -> tuple[BankingMember, Tokens]:
        password = normalize_password(cmd.password)
        try:
            banking_id = canonical_banking_id(cmd.banking_id)
        except InvalidArgument:
            banking_id = None
        if banking_id is not None:
            self._throttles.per_banking_id.check(banking_id)
        if password is None:  # empty or over-long: refused without hashing anything
            await self._record_unattributed_failure(LoginFailureReason.MALFORMED)
            raise InvalidCredentials()
        found = await self._members.by_banking_id(banking_id) if banking_id else None
        if found is None:
            await self._hasher.verify_dummy(password)
            await self._record_unattributed_failure(LoginFailureReason.UNKNOWN_BANKING_ID)
            raise InvalidCredentials()
        matches = await self._hasher.verify(found.password_hash, password)
        upgraded = (
            await self._hasher.hash(password) if matches and self._hasher.needs_rehash(found.password_hash) else None
        )

        now = self._clock.now()
        async with self._uow() as tx:
            member = await tx.members.get(found.member_id)  # again, under the write lock: the state may have moved
            assert member is not None  # members are never deleted
            standing = await tx.customers.get(member.customer_id)
            reason = member.can_log_in(now)
            if reason is None and not matches:
                reason = LoginFailureReason.WRONG_PASSWORD
            if reason is None and (standing is None or not standing.is_normal()):
                reason = LoginFailureReason.CUSTOMER_NOT_NORMAL  # never seen counts as not normal: fail closed
            if reason is not None:
                member.record_failure(reason, self._policy, now)
                await tx.commit()
                raise InvalidCredentials()
            refresh_token = self._tokens.new_refresh_token()
            session = Session.open(
                member.member_id, member.customer_id, self._tokens.refresh_token_digest(refresh_token), now
            )
            member.record_success(session.session_id, now)
            if upgraded is not None and member.password_hash == found.password_hash:
                member.change_password_hash(upgraded, now, announce=False)
            await tx.sessions.add(session)
            await tx.commit()
        access = self._tokens.issue_access_token(member, session, now)
        return member, Tokens(access.token, access.expires_in_seconds, refresh_token)

    async def _record_unattributed_failure(self, reason: LoginFailureReason) -> None:
        async with self._uow() as tx:
            tx.record(
                LoginFailed(
                    event_id=new_id(),
                    occurred_at=self._clock.now(),
                    customer_id="",
                    member_id="",
                    reason=reason,
                    consecutive_failures=0,
                )
            )
            await tx.commit()

    # -- tokens -----------------------------------------------------------------------------------------

    async def refresh_token(self, cmd: RefreshToken) -> Tokens:
        """Rotate: the presented refresh token is spent; presenting a spent one revokes the session."""
        if not cmd.refresh_token or len(cmd.refresh_token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        digest = self._tokens.refresh_token_digest(cmd.refresh_token)
        now = self._clock.now()
        async with self._uow() as tx:
            session = await tx.sessions.by_refresh_digest(digest)
            if session is None:
                raise InvalidToken()
            if session.refresh_digest != digest:
                session.revoke(RevocationReason.REFRESH_TOKEN_REUSED, now)
                await tx.commit()
                raise InvalidToken()
            member = await tx.members.get(session.member_id)
            standing = await tx.customers.get(session.customer_id)
            if (
                not session.is_active(now)
                or member is None
                or member.can_log_in(now) is LoginFailureReason.TERMINATED
                or standing is None
                or not standing.is_normal()
            ):
                raise InvalidToken()
            new_refresh = self._tokens.new_refresh_token()
            session.rotate(self._tokens.refresh_token_digest(new_refresh))
            await tx.commit()
        access = self._tokens.issue_access_token(member, session, now)
        return Tokens(access.token, access.expires_in_seconds, new_refresh)

    async def authenticate(self, access_token: str) -> AccessClaims:
        """The claims of a valid access token whose session is still active; InvalidToken otherwise."""
        if not access_token or len(access_token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        now = self._clock.now()
        claims = self._tokens.verify_access_token(access_token, now)
        async with self._uow() as tx:
            session = await tx.sessions.get(claims.session_id)
        if session is None or not session.is_active(now) or session.member_id != claims.member_id:
            raise InvalidToken()
        return claims

    async def log_out(self, cmd: LogOut) -> None:
        claims = await self.authenticate(cmd.access_token)
        async with self._uow() as tx:
            session = await tx.sessions.get(claims.session_id)
            if session is not None:
                session.revoke(RevocationReason.LOGOUT, self._clock.now())
            await tx.commit()

    # -- password change and unlock --------------------------------------------------------------------

    async def change_password(self, cmd: ChangePassword) -> None:
        """Needs the current password; the new one meets the policy; every other session is revoked."""
        claims = await self.authenticate(cmd.access_token)
        current = normalize_password(cmd.current_password)
        async with self._uow() as tx:
            found = await tx.members.get(claims.member_id)
        if found is None:
            raise InvalidToken()
        new_password = check_new_password(cmd.new_password, found.banking_id, self._common, field="new_password")
        if current is None:
            raise InvalidCredentials()
        async with self._hasher.admit():
            matches = await self._hasher.verify(found.password_hash, current)
            if matches and new_password == current:
                raise WeakPassword("new_password", "must differ from the current password")
            new_hash = await self._hasher.hash(new_password) if matches else None
        now = self._clock.now()
        async with self._uow() as tx:
            member = await tx.members.get(found.member_id)
            assert member is not None
            if new_hash is None or member.can_log_in(now) is not None:
                member.record_failure(member.can_log_in(now) or LoginFailureReason.WRONG_PASSWORD, self._policy, now)
                await tx.commit()
                raise InvalidCredentials()
            member.change_password_hash(new_hash, now)
            others = [
                s for s in await tx.sessions.active_of_member(member.member_id) if s.session_id != claims.session_id
            ]
            self._revoke_all(tx, member, others, RevocationReason.PASSWORD_CHANGED)
            await tx.commit()

    async def unlock_member(self, cmd: UnlockMember) -> BankingMember:
        member_id = parse_id(cmd.member_id, "member_id")
        async with self._uow() as tx:
            member = await tx.members.get(member_id)
            if member is None:
                raise MemberNotFound()
            member.unlock(self._clock.now())
            await tx.commit()
        return member

    # -- the customer status replica -------------------------------------------------------------------

    async def record_customer_status(self, cmd: RecordCustomerStatus, tx: MemberUnitOfWork) -> None:
        """Apply a customer event inside the consumer's transaction: only if newer than what is held; a
        termination terminates the customer's banking members and revokes all their sessions."""
        customer_id = parse_id(cmd.customer_id, "customer_id")
        status = CustomerStatus(cmd.status)
        standing = CustomerStanding(customer_id, status, cmd.version)
        if not standing.is_newer_than(await tx.customers.get(customer_id)):
            return  # stale or repeated
        await tx.customers.put(standing)
        if status is not CustomerStatus.TERMINATED:
            return
        for member in await tx.members.of_customer(customer_id):
            if member.terminate(self._clock.now()):
                sessions = await tx.sessions.active_of_member(member.member_id)
                self._revoke_all(tx, member, sessions, RevocationReason.MEMBER_TERMINATED)

    def _revoke_all(
        self, tx: MemberUnitOfWork, member: BankingMember, sessions: list[Session], reason: RevocationReason
    ) -> None:
        """Revoke these sessions and announce it in one SessionsRevoked event."""
        now = self._clock.now()
        for session in sessions:
            session.revoke(reason, now, announce=False)
        tx.record(
            SessionsRevoked(
                event_id=new_id(),
                occurred_at=now,
                customer_id=member.customer_id,
                member_id=member.member_id,
                session_ids=tuple(s.session_id for s in sessions),
                all_sessions=reason is RevocationReason.MEMBER_TERMINATED,
                reason=reason,
            )
        )
