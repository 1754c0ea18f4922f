"""The my accounts context's use cases: the projector (applies events to the view inside the consumer's
transaction) and the queries (answer from the view alone)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.my_accounts.commands import ListMyAccounts
from domain.my_accounts.errors import CustomerNotServed
from domain.my_accounts.events import AccountClosed, AccountOpened, BalanceChanged, SessionsRevoked
from domain.my_accounts.model import Freshness, ViewedAccount, ViewedAccountStatus
from domain.my_accounts.ports import ProjectionUnitOfWork, ViewReader
from domain.shared.clock import Clock
from domain.shared.errors import InvalidArgument, InvalidToken
from domain.shared.ids import parse_id
from domain.shared.standing import CustomerStanding, CustomerStatus
from domain.shared.tokens import AccessTokenVerifier

log = logging.getLogger(__name__)
MAX_TOKEN_LENGTH = 4096


class Projector:
    """Applies each fact only if it is newer than what the view holds."""

    async def account_opened(self, e: AccountOpened, tx: ProjectionUnitOfWork) -> None:
        held = await tx.accounts.get(e.account_number)
        if held is not None and held.sequence >= e.sequence:
            return
        await tx.accounts.put(
            ViewedAccount(
                e.account_number, e.customer_id, e.product_code, 0, e.sequence, ViewedAccountStatus.OPEN, e.occurred_at
            )
        )

    async def balance_changed(self, e: BalanceChanged, tx: ProjectionUnitOfWork) -> None:
        held = await tx.accounts.get(e.account_number)
        if held is None:
            # AccountOpened comes first on the same partition (same key); without it the product is unknown.
            raise LookupError("balance change for an account the view has not seen opened")
        if e.sequence > held.sequence + 1:
            # The balance is absolute, so applying it is still right; but a gap means an event is missing.
            log.warning("sequence gap on an account: held %d, got %d", held.sequence, e.sequence)
        moved = held.advanced(e.sequence, e.occurred_at, balance=e.balance)
        if moved is not None:
            await tx.accounts.put(moved)

    async def account_closed(self, e: AccountClosed, tx: ProjectionUnitOfWork) -> None:
        held = await tx.accounts.get(e.account_number)
        if held is None:
            raise LookupError("closing an account the view has not seen opened")
        moved = held.advanced(e.sequence, e.occurred_at, status=ViewedAccountStatus.CLOSED)
        if moved is not None:
            await tx.accounts.put(moved)

    async def customer_status(self, customer_id: str, status: str, version: int, tx: ProjectionUnitOfWork) -> None:
        standing = CustomerStanding(parse_id(customer_id, "customer_id"), CustomerStatus(status), version)
        if standing.is_newer_than(await tx.customers.get(standing.customer_id)):
            await tx.customers.put(standing)

    async def sessions_revoked(self, e: SessionsRevoked, tx: ProjectionUnitOfWork) -> None:
        if e.all_sessions:
            await tx.revocations.revoke_member(e.member_id, e.occurred_at)
        if e.session_ids:
            await tx.revocations.revoke_sessions(e.session_ids, e.occurred_at)


@dataclass(frozen=True)
class MyAccounts:
    accounts: list[ViewedAccount]
    stale: bool
    caught_up_at: datetime | None
    min_sequence_reached: bool


@dataclass(frozen=True)
class AccountsPage:
    accounts: list[ViewedAccount]
    next_page_token: str  # "" on the last page


DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 500, 1000


class MyAccountsQueries:
    def __init__(self, view: ViewReader, tokens: AccessTokenVerifier, clock: Clock, stale_after: timedelta) -> None:
        self._view = view
        self._tokens = tokens
        self._clock = clock
        self._stale_after = stale_after

    async def list_my_accounts(self, query: ListMyAccounts) -> MyAccounts:
        """The caller's accounts: the caller is the token's subject, and nobody else."""
        if not query.access_token or len(query.access_token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        now = self._clock.now()
        claims = self._tokens.verify(query.access_token, now)
        if await self._view.is_revoked(claims.session_id, claims.member_id, claims.issued_at):
            raise InvalidToken()
        standing = await self._view.standing(claims.customer_id)
        if standing is not None and standing.status is CustomerStatus.TERMINATED:
            raise InvalidToken()
        if standing is not None and not standing.is_normal():
            raise CustomerNotServed()
        snapshot = await self.snapshot(claims.customer_id)
        reached = bool(query.account_number) and any(
            a.account_number == query.account_number and a.sequence >= query.min_sequence for a in snapshot.accounts
        )
        return MyAccounts(snapshot.accounts, snapshot.stale, snapshot.caught_up_at, reached)

    async def all_accounts(self, page_size: int, page_token: str) -> AccountsPage:
        """Every account of the view, open and closed, page by page: what operators reconcile with the source.
        The page token is the last account number of the previous page."""
        size = page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidArgument("page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        if len(page_token) > 64:
            raise InvalidArgument("page_token", "not a page token")
        accounts = await self._view.page(page_token, size)
        return AccountsPage(accounts, accounts[-1].account_number if len(accounts) == size else "")

    async def snapshot(self, customer_id: str) -> MyAccounts:
        """A customer's accounts for the member service at login (an internal call)."""
        customer_id = parse_id(customer_id, "customer_id")
        accounts = await self._view.accounts_of(customer_id)
        freshness = Freshness(await self._view.caught_up_at(), self._stale_after)
        return MyAccounts(accounts, freshness.is_stale(self._clock.now()), freshness.caught_up_at, False)
