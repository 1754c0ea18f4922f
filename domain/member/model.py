"""The BankingMember aggregate (뱅킹회원): a customer's online-banking identity, its password hash, its status
and its failure record. Lockout follows the LockoutPolicy; termination follows the customer's.

Status: NORMAL <-> LOCKED (by failures / by time or an operator); NORMAL | LOCKED -> TERMINATED (final).
A temporary lock that has run out is lifted lazily, at the next login attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.member.errors import MemberNotLocked
from domain.member.events import (
    LoginFailed,
    LoginFailureReason,
    LoginSucceeded,
    MemberEnrolled,
    MemberEvent,
    MemberLocked,
    MemberTerminated,
    MemberUnlocked,
    PasswordChanged,
)
from domain.member.lockout import LockoutPolicy
from domain.shared.aggregate import Aggregate
from domain.shared.ids import new_id
from domain.shared.standing import CustomerStanding as CustomerStanding
from domain.shared.standing import CustomerStatus as CustomerStatus


class MemberStatus(StrEnum):
    NORMAL = "NORMAL"
    LOCKED = "LOCKED"
    TERMINATED = "TERMINATED"


@dataclass(kw_only=True)
class BankingMember(Aggregate):
    member_id: str
    customer_id: str
    banking_id: str
    password_hash: str
    status: MemberStatus
    failed_attempts: int
    last_failure_at: datetime | None
    lock_count: int
    locked_until: datetime | None  # with status LOCKED: None means permanent
    enrolled_at: datetime
    version: int

    @classmethod
    def enroll(cls, customer_id: str, banking_id: str, password_hash: str, now: datetime) -> BankingMember:
        """A new NORMAL member; the banking id must already be canonical and the hash made."""
        member = cls(
            member_id=new_id(),
            customer_id=customer_id,
            banking_id=banking_id,
            password_hash=password_hash,
            status=MemberStatus.NORMAL,
            failed_attempts=0,
            last_failure_at=None,
            lock_count=0,
            locked_until=None,
            enrolled_at=now,
            version=1,
        )
        member._record(MemberEnrolled, now)
        return member

    def is_locked(self, now: datetime) -> bool:
        """Locked right now (a temporary lock that has run out does not count)."""
        if self.status is not MemberStatus.LOCKED:
            return False
        return self.locked_until is None or now < self.locked_until

    def record_failure(self, reason: LoginFailureReason, policy: LockoutPolicy, now: datetime) -> None:
        """A failed login. Counts toward a lock only for a wrong password on a member that is not locked."""
        self._expire_lock(now)
        counted = reason is LoginFailureReason.WRONG_PASSWORD and self.status is MemberStatus.NORMAL
        if counted:
            if self.last_failure_at is not None and now - self.last_failure_at > policy.reset_window:
                self.failed_attempts = 0
            self.failed_attempts += 1
            self.last_failure_at = now
            self.version += 1
        self._record(LoginFailed, now, reason=reason, consecutive_failures=self.failed_attempts if counted else 0)
        if counted and self.failed_attempts >= policy.max_failures:
            self._lock(policy, now)

    def record_success(self, session_id: str, now: datetime) -> None:
        """A successful login: the failure record is cleared."""
        self._expire_lock(now)
        if self.failed_attempts or self.lock_count:
            self.failed_attempts, self.last_failure_at, self.lock_count = 0, None, 0
            self.version += 1
        self._record(LoginSucceeded, now, session_id=session_id)

    def can_log_in(self, now: datetime) -> LoginFailureReason | None:
        """None if the member's own status allows a login now, else why not."""
        if self.status is MemberStatus.TERMINATED:
            return LoginFailureReason.TERMINATED
        if self.is_locked(now):
            return LoginFailureReason.LOCKED
        return None

    def change_password_hash(self, new_hash: str, now: datetime, *, announce: bool = True) -> None:
        """Store a new hash: after ChangePassword (announced) or a parameter upgrade at login (silent)."""
        self.password_hash = new_hash
        self.version += 1
        if announce:
            self._record(PasswordChanged, now)

    def unlock(self, now: datetime) -> None:
        """An operator lifts a temporary or permanent lock."""
        if not self.is_locked(now):
            raise MemberNotLocked()
        self.status, self.locked_until = MemberStatus.NORMAL, None
        self.failed_attempts, self.last_failure_at, self.lock_count = 0, None, 0
        self.version += 1
        self._record(MemberUnlocked, now)

    def terminate(self, now: datetime) -> bool:
        """Terminate with the customer. False (and no event) if already terminated: the event may come twice."""
        if self.status is MemberStatus.TERMINATED:
            return False
        self.status, self.locked_until = MemberStatus.TERMINATED, None
        self.version += 1
        self._record(MemberTerminated, now)
        return True

    def _lock(self, policy: LockoutPolicy, now: datetime) -> None:
        self.lock_count += 1
        self.status = MemberStatus.LOCKED
        permanent = self.lock_count >= policy.permanent_after_locks
        self.locked_until = None if permanent else now + policy.lock_duration(self.lock_count)
        self.failed_attempts, self.last_failure_at = 0, None
        self.version += 1
        self._record(MemberLocked, now, locked_until=self.locked_until)

    def _expire_lock(self, now: datetime) -> None:
        if self.status is MemberStatus.LOCKED and not self.is_locked(now):
            self.status, self.locked_until = MemberStatus.NORMAL, None
            self.version += 1

    def _record(self, event: type[MemberEvent], now: datetime, **fields: object) -> None:
        self.pending_events.append(
            event(event_id=new_id(), occurred_at=now, customer_id=self.customer_id, member_id=self.member_id, **fields)
        )
