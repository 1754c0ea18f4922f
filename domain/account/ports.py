"""What the account context needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.account.model import Account
from domain.shared.ports import CustomerStandings, UnitOfWork
from domain.shared.tokens import AccessTokenVerifier as AccessTokenVerifier


class AccountRepository(Protocol):
    async def add(self, account: Account) -> None:
        """Store a new account at commit; AlreadyExists then if its number is taken."""
        ...

    async def get(self, account_number: str) -> Account | None:
        """The account, for change in this unit of work: locked until the end of the transaction (so two
        commands on one account run one after the other); None if there is none."""
        ...


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first execution of a command under a caller's idempotency key: what was asked (a digest of the
    method and its normalized fields) and what was answered (a serialized snapshot)."""

    customer_id: str
    key: str
    request_digest: str
    result: str
    created_at: datetime


class IdempotencyStore(Protocol):
    async def get(self, customer_id: str, key: str) -> IdempotencyRecord | None:
        """The record of this caller's key, if a command under it was committed."""
        ...

    async def add(self, record: IdempotencyRecord) -> None:
        """Store the record in this unit of work, so it commits with the change it describes, or not at all.
        AlreadyExists (now or at commit) if the caller's key is taken."""
        ...


class AccountUnitOfWork(UnitOfWork, Protocol):
    accounts: AccountRepository
    idempotency: IdempotencyStore
    customers: CustomerStandings
