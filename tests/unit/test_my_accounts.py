"""The my accounts projector and queries with fakes: only newer changes apply, the caller is the token's
subject, revoked or terminated callers are refused, staleness follows the projector's freshness mark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.my_accounts.commands import ListMyAccounts
from domain.my_accounts.errors import CustomerNotServed
from domain.my_accounts.events import AccountClosed, AccountOpened, BalanceChanged, SessionsRevoked
from domain.my_accounts.handlers import MyAccountsQueries, Projector
from domain.my_accounts.model import ViewedAccountStatus
from domain.shared.errors import InvalidArgument, InvalidToken
from domain.shared.standing import CustomerStanding, CustomerStatus
from domain.shared.tokens import AccessClaims
from tests.fakes import FakeClock, FakeView

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FakeTokens:
    def __init__(self) -> None:
        self.claims: dict[str, AccessClaims] = {}

    def issue(self, customer_id: str, member_id: str = "m1", at: datetime = T0) -> str:
        token = f"t{len(self.claims)}"
        self.claims[token] = AccessClaims(
            customer_id, member_id, str(uuid.uuid4()), token, at, at + timedelta(minutes=5)
        )
        return token

    def verify(self, token: str, now: datetime) -> AccessClaims:
        if token not in self.claims:
            raise InvalidToken()
        return self.claims[token]


CUSTOMER = str(uuid.uuid4())


@pytest.fixture
def view() -> FakeView:
    return FakeView(caught_up=T0)


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def queries(view: FakeView, tokens: FakeTokens) -> MyAccountsQueries:
    clock = FakeClock(T0 + timedelta(seconds=1))
    return MyAccountsQueries(view, tokens, clock, timedelta(seconds=5))


async def apply(view: FakeView, *events: object) -> None:
    projector = Projector()
    handlers = {
        AccountOpened: projector.account_opened,
        BalanceChanged: projector.balance_changed,
        AccountClosed: projector.account_closed,
        SessionsRevoked: projector.sessions_revoked,
    }
    for event in events:
        async with view.uow() as tx:
            await handlers[type(event)](event, tx)  # type: ignore[operator]
            await tx.commit()


async def test_only_newer_changes_apply(view: FakeView) -> None:
    await apply(
        view,
        AccountOpened("A", CUSTOMER, "SAVINGS", 1, T0),
        BalanceChanged("A", CUSTOMER, 500, 3, T0 + timedelta(seconds=3)),
        BalanceChanged("A", CUSTOMER, 100, 2, T0 + timedelta(seconds=2)),  # late: ignored
        BalanceChanged("A", CUSTOMER, 500, 3, T0 + timedelta(seconds=3)),  # repeated: ignored
        AccountOpened("A", CUSTOMER, "SAVINGS", 1, T0),  # replayed opening: ignored
    )
    assert (view.accounts["A"].balance, view.accounts["A"].sequence) == (500, 3)
    assert view.accounts["A"].as_of == T0 + timedelta(seconds=3)


async def test_a_change_before_the_opening_is_an_error_not_a_guess(view: FakeView) -> None:
    with pytest.raises(LookupError):
        await apply(view, BalanceChanged("B", CUSTOMER, 100, 2, T0))


async def test_closed_accounts_leave_the_list(view: FakeView, queries: MyAccountsQueries, tokens: FakeTokens) -> None:
    await apply(view, AccountOpened("A", CUSTOMER, "SAVINGS", 1, T0), AccountOpened("B", CUSTOMER, "CHECKING", 1, T0))
    await apply(view, AccountClosed("B", CUSTOMER, 2, T0))
    result = await queries.list_my_accounts(ListMyAccounts(tokens.issue(CUSTOMER)))
    assert [a.account_number for a in result.accounts] == ["A"]


async def test_the_caller_sees_only_its_own_accounts(
    view: FakeView, queries: MyAccountsQueries, tokens: FakeTokens
) -> None:
    other = str(uuid.uuid4())
    await apply(view, AccountOpened("A", CUSTOMER, "SAVINGS", 1, T0), AccountOpened("Z", other, "SAVINGS", 1, T0))
    assert [
        a.account_number for a in (await queries.list_my_accounts(ListMyAccounts(tokens.issue(other)))).accounts
    ] == ["Z"]


async def test_read_your_own_write(view: FakeView, queries: MyAccountsQueries, tokens: FakeTokens) -> None:
    await apply(view, AccountOpened("A", CUSTOMER, "SAVINGS", 1, T0), BalanceChanged("A", CUSTOMER, 9, 2, T0))
    token = tokens.issue(CUSTOMER)
    assert (await queries.list_my_accounts(ListMyAccounts(token, "A", 2))).min_sequence_reached
    assert not (await queries.list_my_accounts(ListMyAccounts(token, "A", 3))).min_sequence_reached
    assert not (await queries.list_my_accounts(ListMyAccounts(token, "B", 1))).min_sequence_reached


async def test_revoked_sessions_and_terminated_customers_are_refused(
    view: FakeView, queries: MyAccountsQueries, tokens: FakeTokens
) -> None:
    token = tokens.issue(CUSTOMER, "m1")
    await apply(view, SessionsRevoked("m1", CUSTOMER, (tokens.claims[token].session_id,), False, T0))
    with pytest.raises(InvalidToken):
        await queries.list_my_accounts(ListMyAccounts(token))
    older = tokens.issue(CUSTOMER, "m2", at=T0 - timedelta(seconds=1))
    await apply(view, SessionsRevoked("m2", CUSTOMER, (), True, T0))
    with pytest.raises(InvalidToken):
        await queries.list_my_accounts(ListMyAccounts(older))
    fresh = tokens.issue(CUSTOMER, "m3")
    view.standings[CUSTOMER] = CustomerStanding(CUSTOMER, CustomerStatus.SUSPENDED, 2)
    with pytest.raises(CustomerNotServed):
        await queries.list_my_accounts(ListMyAccounts(fresh))
    view.standings[CUSTOMER] = CustomerStanding(CUSTOMER, CustomerStatus.TERMINATED, 3)
    with pytest.raises(InvalidToken):
        await queries.list_my_accounts(ListMyAccounts(fresh))


async def test_stale_once_the_projector_has_not_been_caught_up_for_the_threshold(
    view: FakeView, tokens: FakeTokens
) -> None:
    clock = FakeClock(T0 + timedelta(seconds=5))
    queries = MyAccountsQueries(view, tokens, clock, timedelta(seconds=5))
    token = tokens.issue(CUSTOMER)
    assert not (await queries.list_my_accounts(ListMyAccounts(token))).stale
    clock.advance(seconds=1)
    assert (await queries.list_my_accounts(ListMyAccounts(token))).stale
    view.caught_up = None
    assert (await queries.snapshot(CUSTOMER)).stale


async def test_operators_page_through_every_account(view: FakeView, queries: MyAccountsQueries) -> None:
    other = str(uuid.uuid4())
    await apply(
        view,
        *(AccountOpened(f"A{i}", CUSTOMER if i % 2 else other, "SAVINGS", 1, T0) for i in range(5)),
        AccountClosed("A3", CUSTOMER, 2, T0),
    )
    first = await queries.all_accounts(2, "")
    assert [a.account_number for a in first.accounts] == ["A0", "A1"] and first.next_page_token == "A1"
    second = await queries.all_accounts(2, first.next_page_token)
    third = await queries.all_accounts(2, second.next_page_token)
    assert [a.account_number for a in second.accounts + third.accounts] == ["A2", "A3", "A4"]
    assert third.next_page_token == ""
    assert second.accounts[1].status is ViewedAccountStatus.CLOSED  # closed ones too: reconciliation needs them
    for size in (-1, 1001):
        with pytest.raises(InvalidArgument):
            await queries.all_accounts(size, "")
