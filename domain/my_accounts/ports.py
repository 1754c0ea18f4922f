"""What the my accounts context needs: its view store (written by the projector in the consumer's
transaction, read by queries without blocking the writer)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.my_accounts.model import ViewedAccount
from domain.shared.ports import CustomerStandings, UnitOfWork
from domain.shared.standing import CustomerStanding


class ViewedAccounts(Protocol):
    async def get(self, account_number: str) -> ViewedAccount | None: ...

    async def put(self, account: ViewedAccount) -> None:
        """Store `account` unless this account's sequence, or a newer one, is already stored (checked by the
        store itself, atomically: two projectors racing through a rebalance cannot move it backwards)."""
        ...


class Revocations(Protocol):
    async def revoke_sessions(self, session_ids: tuple[str, ...], at: datetime) -> None: ...

    async def revoke_member(self, member_id: str, before: datetime) -> None:
        """Every session of the member issued before `before` is revoked (keeps the latest `before`)."""
        ...


class ProjectionUnitOfWork(UnitOfWork, Protocol):
    accounts: ViewedAccounts
    customers: CustomerStandings
    revocations: Revocations


class ViewReader(Protocol):
    """Reads for queries: never blocks the projector, never writes."""

    async def accounts_of(self, customer_id: str) -> list[ViewedAccount]:
        """The customer's OPEN accounts, ordered by account number."""
        ...

    async def standing(self, customer_id: str) -> CustomerStanding | None: ...

    async def is_revoked(self, session_id: str, member_id: str, issued_at: datetime) -> bool: ...

    async def page(self, after: str, limit: int) -> list[ViewedAccount]:
        """Every account (open and closed) numbered after `after`, in number order, at most `limit`."""
        ...

    async def caught_up_at(self) -> datetime | None:
        """When the projector was last known to have applied everything published."""
        ...
