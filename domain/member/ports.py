"""What the member context needs from the outside world."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.member.model import BankingMember
from domain.member.session import Session
from domain.shared.ports import CustomerStandings, UnitOfWork
from domain.shared.tokens import AccessClaims


class PasswordHasher(Protocol):
    """argon2id behind a bounded pool: at most W hashes run at once and at most Q callers wait."""

    def admit(self) -> AbstractAsyncContextManager[None]:
        """Reserve the right to hash for the length of the block. Raises Overloaded at once (before any
        work) when W hashes run and Q callers already wait, with a retry delay in whole seconds."""
        ...

    async def hash(self, password: str) -> str:
        """A new PHC-format hash of `password` (salted: the same password never gives the same hash)."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """True if `password` matches; False for a mismatch or an unusable hash (never raises for those)."""
        ...

    async def verify_dummy(self, password: str) -> None:
        """One verify against a hash of the current parameters, result ignored: the unknown-id path calls it
        once, so that an unknown banking id costs what a wrong password costs."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True if the hash was made with other parameters than the current ones (upgrade at next login)."""
        ...


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in_seconds: int


class TokenService(Protocol):
    def issue_access_token(self, member: BankingMember, session: Session, now: datetime) -> IssuedAccessToken:
        """A signed JWT access token (RFC 9068) for this member and session."""
        ...

    def verify_access_token(self, token: str, now: datetime) -> AccessClaims:
        """The claims of a valid access token; InvalidToken for anything else (signature, algorithm,
        issuer, audience, type, expiry)."""
        ...

    def new_refresh_token(self) -> str:
        """A fresh opaque refresh token (at least 256 bits of randomness)."""
        ...

    def refresh_token_digest(self, token: str) -> str:
        """What is stored of a refresh token: a digest, never the token itself."""
        ...


class Throttle(Protocol):
    def check(self, key: str) -> None:
        """Take one token from `key`'s bucket; Overloaded with a retry delay if it is empty. Memory stays
        bounded however many distinct keys arrive."""
        ...


class AccountsSnapshotState(StrEnum):
    FRESH = "FRESH"
    STALE = "STALE"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class AccountSummary:
    account_number: str
    product_code: str
    balance: int
    sequence: int
    as_of: datetime


@dataclass(frozen=True)
class AccountsSnapshot:
    state: AccountsSnapshotState
    accounts: tuple[AccountSummary, ...] = ()


class AccountsDirectory(Protocol):
    async def snapshot(self, customer_id: str) -> AccountsSnapshot:
        """The customer's accounts, fast: UNAVAILABLE (never an error) when they cannot be had in time."""
        ...


class MemberLookup(Protocol):
    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        """By canonical banking id, as last committed: to read only, outside any unit of work (so without
        taking the database's write lock). Login's first read, before the hash; it reads again to change."""
        ...


class MemberRepository(Protocol):
    async def add(self, member: BankingMember) -> None: ...

    async def get(self, member_id: str) -> BankingMember | None:
        """For change in this unit of work."""
        ...

    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        """By canonical banking id, for change in this unit of work."""
        ...

    async def of_customer(self, customer_id: str) -> list[BankingMember]: ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def by_refresh_digest(self, digest: str) -> Session | None:
        """The session that issued this refresh token, current or already spent."""
        ...

    async def active_of_member(self, member_id: str) -> list[Session]: ...


class MemberUnitOfWork(UnitOfWork, Protocol):
    members: MemberRepository
    sessions: SessionRepository
    customers: CustomerStandings
