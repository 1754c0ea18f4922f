"""What happened in the member context. No event carries a password, a hash or a token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.shared.events import DomainEvent


class LoginFailureReason(StrEnum):
    UNKNOWN_BANKING_ID = "UNKNOWN_BANKING_ID"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    LOCKED = "LOCKED"
    TERMINATED = "TERMINATED"
    CUSTOMER_NOT_NORMAL = "CUSTOMER_NOT_NORMAL"
    MALFORMED = "MALFORMED"


class RevocationReason(StrEnum):
    LOGOUT = "LOGOUT"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    MEMBER_TERMINATED = "MEMBER_TERMINATED"


@dataclass(frozen=True, kw_only=True)
class MemberEvent(DomainEvent):
    member_id: str


@dataclass(frozen=True, kw_only=True)
class MemberEnrolled(MemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class LoginSucceeded(MemberEvent):
    session_id: str


@dataclass(frozen=True, kw_only=True)
class LoginFailed(MemberEvent):
    """member_id and customer_id are empty when the banking id is unknown."""

    reason: LoginFailureReason
    consecutive_failures: int


@dataclass(frozen=True, kw_only=True)
class MemberLocked(MemberEvent):
    locked_until: datetime | None  # None: permanent


@dataclass(frozen=True, kw_only=True)
class MemberUnlocked(MemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class MemberTerminated(MemberEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class SessionsRevoked(MemberEvent):
    session_ids: tuple[str, ...]
    all_sessions: bool
    reason: RevocationReason


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(MemberEvent):
    pass
