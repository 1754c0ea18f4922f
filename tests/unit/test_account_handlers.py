"""The account use cases with fakes: callers reach only their own accounts, money moves only for customers
in normal status, every command runs once per idempotency key, and a refusal changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from domain.account.commands import (
    CloseAccount,
    Deposit,
    GetAccount,
    OpenAccount,
    RecordCustomerStatus,
    Transfer,
    Withdraw,
)
from domain.account.errors import (
    AccountNotFound,
    AccountNotOpen,
    BalanceLimitExceeded,
    BalanceNotZero,
    CustomerNotNormal,
    DestinationCustomerTerminated,
    DestinationNotFound,
    InsufficientFunds,
)
from domain.account.events import AccountClosed, AccountOpened, BalanceChanged, BalanceChangeKind
from domain.account.handlers import ATTEMPTS, AccountApplication
from domain.account.model import MAX_BALANCE, AccountStatus, new_account_number
from domain.shared.errors import (
    DependencyUnavailable,
    IdempotencyKeyReused,
    InvalidArgument,
    InvalidToken,
    PermissionDenied,
)
from domain.shared.standing import CustomerStatus
from tests.fakes import FakeAccessTokenVerifier, FakeAccountStore, FakeAccountUnitOfWork, FakeClock


class World:
    def __init__(self, max_amount: int = 100_000_000, numbers: Iterator[str] | None = None) -> None:
        self.store = FakeAccountStore()
        self.clock = FakeClock()
        self.tokens = FakeAccessTokenVerifier()
        self.app = AccountApplication(
            lambda: FakeAccountUnitOfWork(self.store),
            self.tokens,
            self.clock,
            max_amount=max_amount,
            new_number=(lambda: next(numbers)) if numbers is not None else new_account_number,
        )

    async def customer(self, status: str = "NORMAL", version: int = 1) -> tuple[str, str]:
        """A customer the replica knows, and an access token of theirs."""
        customer_id = str(uuid.uuid4())
        await self.status(customer_id, status, version)
        return customer_id, self.tokens.issue(customer_id, self.clock.now())

    async def status(self, customer_id: str, status: str, version: int) -> None:
        async with FakeAccountUnitOfWork(self.store) as tx:
            await self.app.record_customer_status(RecordCustomerStatus(customer_id, status, version), tx)
            await tx.commit()

    async def account(self, token: str, customer_id: str, balance: int = 0) -> str:
        account = await self.app.open_account(OpenAccount(token, customer_id, "savings", key()))
        if balance:
            await self.app.deposit(Deposit(token, account.account_number, balance, key()))
        return account.account_number

    def balance(self, number: str) -> int:
        return self.store.accounts[number].balance

    def events(self, kind: type = object) -> list:
        return [e for e in self.store.outbox if isinstance(e, kind)]


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world() -> World:
    return World()


# -- opening ------------------------------------------------------------------------------------------------


async def test_open_stores_the_account_and_publishes(world: World) -> None:
    customer_id, token = await world.customer()
    account = await world.app.open_account(OpenAccount(token, customer_id, " savings ", "k-1"))
    stored = world.store.accounts[account.account_number]
    assert (stored.customer_id, stored.product_code, stored.balance, stored.sequence, stored.status) == (
        customer_id,
        "SAVINGS",
        0,
        1,
        AccountStatus.OPEN,
    )
    [opened] = world.events()
    assert isinstance(opened, AccountOpened) and opened.account_number == account.account_number
    assert (customer_id, "k-1") in world.store.idempotency


async def test_open_only_for_the_callers_own_customer(world: World) -> None:
    _, token = await world.customer()
    other, _ = await world.customer()
    with pytest.raises(PermissionDenied):
        await world.app.open_account(OpenAccount(token, other, "SAVINGS", key()))
    assert world.store.accounts == {} and world.events() == []


@pytest.mark.parametrize("status", ["SUSPENDED", "TERMINATED", None])
async def test_open_needs_a_customer_in_normal_status(world: World, status: str | None) -> None:
    customer_id = str(uuid.uuid4())
    if status is not None:
        await world.status(customer_id, status, 2)
    token = world.tokens.issue(customer_id, world.clock.now())
    with pytest.raises(CustomerNotNormal, match="the customer is not in normal status"):
        await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    assert world.store.accounts == {} and world.store.idempotency == {}


async def test_a_taken_account_number_is_retried_with_another() -> None:
    taken, fresh = new_account_number(), new_account_number()
    world = World(numbers=iter([taken, taken, fresh]))
    customer_id, token = await world.customer()
    first = await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    second = await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    assert (first.account_number, second.account_number) == (taken, fresh)
    assert len(world.events(AccountOpened)) == 2


async def test_numbers_that_keep_colliding_give_up_with_a_retryable_refusal() -> None:
    taken = new_account_number()
    world = World(numbers=iter([taken] * (ATTEMPTS + 1)))
    customer_id, token = await world.customer()
    await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    with pytest.raises(DependencyUnavailable):
        await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    assert len(world.store.accounts) == 1 and len(world.store.idempotency) == 1


# -- deposits and withdrawals -------------------------------------------------------------------------------


async def test_deposit_and_withdraw_move_the_balance_and_publish(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id)
    after = await world.app.deposit(Deposit(token, number, 1_000, key(), "cid-d"))
    assert (after.balance, after.sequence) == (1_000, 2)
    after = await world.app.withdraw(Withdraw(token, number, 400, key(), "cid-w"))
    assert (after.balance, after.sequence) == (600, 3)
    assert world.balance(number) == 600
    assert [(e.delta, e.balance, e.sequence, e.kind, e.correlation_id) for e in world.events(BalanceChanged)] == [
        (1_000, 1_000, 2, BalanceChangeKind.DEPOSIT, "cid-d"),
        (-400, 600, 3, BalanceChangeKind.WITHDRAWAL, "cid-w"),
    ]


async def test_an_overdraft_is_refused_and_changes_nothing(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=100)
    before = list(world.store.outbox)
    with pytest.raises(InsufficientFunds, match="insufficient funds"):
        await world.app.withdraw(Withdraw(token, number, 101, key()))
    assert world.balance(number) == 100 and world.store.outbox == before


async def test_another_customers_account_is_refused_like_an_unknown_one(world: World) -> None:
    owner_id, owner = await world.customer()
    _, stranger = await world.customer()
    number = await world.account(owner, owner_id, balance=500)
    answers = []
    for target in (number, new_account_number()):
        for call in (
            world.app.get_account(GetAccount(stranger, target)),
            world.app.deposit(Deposit(stranger, target, 1, key())),
            world.app.withdraw(Withdraw(stranger, target, 1, key())),
            world.app.close_account(CloseAccount(stranger, target, key())),
            world.app.transfer(Transfer(stranger, target, new_account_number(), 1, key())),
        ):
            with pytest.raises(AccountNotFound) as refused:
                await call
            answers.append((type(refused.value), refused.value.message))
    assert len(set(answers)) == 1
    assert world.balance(number) == 500


async def test_the_per_transaction_limit_is_configurable() -> None:
    world = World(max_amount=1_000)
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=1_000)
    with pytest.raises(InvalidArgument, match="at most 1000"):
        await world.app.deposit(Deposit(token, number, 1_001, key()))
    with pytest.raises(InvalidArgument):
        await world.app.withdraw(Withdraw(token, number, 1_001, key()))
    assert world.balance(number) == 1_000


async def test_a_balance_overflow_is_a_failed_precondition() -> None:
    world = World(max_amount=MAX_BALANCE)
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=MAX_BALANCE)
    other = await world.account(token, customer_id, balance=1)
    with pytest.raises(BalanceLimitExceeded):
        await world.app.deposit(Deposit(token, number, 1, key()))
    with pytest.raises(BalanceLimitExceeded):
        await world.app.transfer(Transfer(token, other, number, 1, key()))
    assert (world.balance(number), world.balance(other)) == (MAX_BALANCE, 1)


@pytest.mark.parametrize("status", ["SUSPENDED", "TERMINATED"])
async def test_no_money_moves_for_a_customer_not_in_normal_status(world: World, status: str) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=300)
    second = await world.account(token, customer_id)
    await world.status(customer_id, status, 2)
    before = list(world.store.outbox)
    for call in (
        world.app.deposit(Deposit(token, number, 1, key())),
        world.app.withdraw(Withdraw(token, number, 1, key())),
        world.app.transfer(Transfer(token, number, second, 1, key())),
        world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key())),
    ):
        with pytest.raises(CustomerNotNormal):
            await call
    assert world.balance(number) == 300 and world.store.outbox == before
    assert (await world.app.get_account(GetAccount(token, number))).balance == 300  # reading is still allowed
    closed = await world.app.close_account(CloseAccount(token, second, key()))  # and closing an empty account
    assert closed.status is AccountStatus.CLOSED


async def test_the_replica_keeps_the_newest_status(world: World) -> None:
    customer_id, token = await world.customer(version=1)
    await world.status(customer_id, "TERMINATED", 3)
    await world.status(customer_id, "NORMAL", 2)  # late: ignored
    with pytest.raises(CustomerNotNormal):
        await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", key()))
    assert world.store.standings[customer_id].status is CustomerStatus.TERMINATED


# -- transfers ----------------------------------------------------------------------------------------------


async def test_a_transfer_between_own_accounts_moves_money_in_one_step(world: World) -> None:
    customer_id, token = await world.customer()
    source = await world.account(token, customer_id, balance=1_000)
    target = await world.account(token, customer_id)
    result = await world.app.transfer(Transfer(token, source, target, 250, key(), "cid-t"))
    assert (result.from_account.balance, result.to_account.balance) == (750, 250)
    assert (world.balance(source), world.balance(target)) == (750, 250)
    out, into = sorted(world.events(BalanceChanged)[-2:], key=lambda e: e.delta)
    assert (out.account_number, out.delta, out.kind) == (source, -250, BalanceChangeKind.TRANSFER_OUT)
    assert (into.account_number, into.delta, into.kind) == (target, 250, BalanceChangeKind.TRANSFER_IN)
    assert out.correlation_id == into.correlation_id == "cid-t"


async def test_two_accounts_are_always_loaded_in_account_number_order(world: World) -> None:
    customer_id, token = await world.customer()
    a = await world.account(token, customer_id, balance=10)
    b = await world.account(token, customer_id, balance=10)
    for source, target in ((a, b), (b, a)):
        world.store.loads.clear()
        await world.app.transfer(Transfer(token, source, target, 1, key()))
        assert world.store.loads == sorted((a, b))


async def test_a_transfer_to_another_customer_shows_only_the_destination_number(world: World) -> None:
    payer_id, payer = await world.customer()
    payee_id, payee = await world.customer()
    source = await world.account(payer, payer_id, balance=100)
    target = await world.account(payee, payee_id, balance=7)
    result = await world.app.transfer(Transfer(payer, source, target, 30, key(), "cid-x"))
    assert result.to_account is None and result.to_account_number == target
    assert (world.balance(source), world.balance(target)) == (70, 37)
    into = world.events(BalanceChanged)[-2:]
    assert {e.customer_id for e in into} == {payer_id, payee_id}  # each side keyed by its own customer


async def test_a_destination_customer_the_replica_has_not_seen_can_receive(world: World) -> None:
    payer_id, payer = await world.customer()
    payee_id, payee = await world.customer()
    target = await world.account(payee, payee_id)
    del world.store.standings[payee_id]  # as if this service's replica had lost track of the payee
    source = await world.account(payer, payer_id, balance=10)
    await world.app.transfer(Transfer(payer, source, target, 10, key()))
    assert world.balance(target) == 10


async def test_transfer_refusals_change_nothing(world: World) -> None:
    payer_id, payer = await world.customer()
    payee_id, payee = await world.customer()
    source = await world.account(payer, payer_id, balance=100)
    closed = await world.account(payer, payer_id)
    await world.app.close_account(CloseAccount(payer, closed, key()))
    terminated_target = await world.account(payee, payee_id)
    await world.status(payee_id, "TERMINATED", 2)
    before = list(world.store.outbox)
    cases = [
        (source, source, 1, InvalidArgument),
        (source, new_account_number(), 1, DestinationNotFound),
        (source, closed, 1, AccountNotOpen),
        (closed, source, 1, AccountNotOpen),
        (source, terminated_target, 1, DestinationCustomerTerminated),
        (source, closed, 0, InvalidArgument),
    ]
    for from_number, to_number, amount, refusal in cases:
        with pytest.raises(refusal):
            await world.app.transfer(Transfer(payer, from_number, to_number, amount, key()))
    with pytest.raises(InsufficientFunds):
        await world.app.transfer(Transfer(payer, source, await world.account(payer, payer_id), 101, key()))
    assert world.balance(source) == 100
    assert [e for e in world.store.outbox if isinstance(e, BalanceChanged)] == [
        e for e in before if isinstance(e, BalanceChanged)
    ]


# -- closing ------------------------------------------------------------------------------------------------


async def test_close_only_at_zero_balance(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=5)
    with pytest.raises(BalanceNotZero):
        await world.app.close_account(CloseAccount(token, number, key()))
    await world.app.withdraw(Withdraw(token, number, 5, key()))
    closed = await world.app.close_account(CloseAccount(token, number, key()))
    assert (closed.status, closed.sequence) == (AccountStatus.CLOSED, 4)
    assert isinstance(world.events()[-1], AccountClosed)
    with pytest.raises(AccountNotOpen):
        await world.app.deposit(Deposit(token, number, 1, key()))
    assert (await world.app.get_account(GetAccount(token, number))).status is AccountStatus.CLOSED


# -- idempotency --------------------------------------------------------------------------------------------


async def test_a_retry_answers_the_first_result_and_publishes_nothing(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id)
    first = await world.app.deposit(Deposit(token, number, 100, "dep-1", "cid-1"))
    await world.app.deposit(Deposit(token, number, 7, key()))  # the account moves on
    published = len(world.store.outbox)
    again = await world.app.deposit(Deposit(token, number, 100, "dep-1", "cid-2"))
    assert again == first and (again.balance, again.sequence) == (100, 2)  # as of the first execution
    assert world.balance(number) == 107 and len(world.store.outbox) == published


async def test_retries_of_open_transfer_and_close_answer_the_first_result(world: World) -> None:
    customer_id, token = await world.customer()
    opened = await world.app.open_account(OpenAccount(token, customer_id, "SAVINGS", "open-1"))
    assert await world.app.open_account(OpenAccount(token, customer_id, "savings", "open-1")) == opened
    assert len(world.store.accounts) == 1
    target = await world.account(token, customer_id)
    await world.app.deposit(Deposit(token, opened.account_number, 50, key()))
    moved = await world.app.transfer(Transfer(token, opened.account_number, target, 50, "tr-1"))
    assert await world.app.transfer(Transfer(token, opened.account_number, target, 50, "tr-1")) == moved
    closed = await world.app.close_account(CloseAccount(token, opened.account_number, "close-1"))
    assert await world.app.close_account(CloseAccount(token, opened.account_number, "close-1")) == closed
    assert (world.balance(opened.account_number), world.balance(target)) == (0, 50)
    assert len(world.events(AccountClosed)) == 1 and len(world.events(BalanceChanged)) == 3


async def test_a_key_reused_with_another_request_is_refused(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=100)
    await world.app.withdraw(Withdraw(token, number, 10, "w-1"))
    published = len(world.store.outbox)
    for other in (
        world.app.withdraw(Withdraw(token, number, 11, "w-1")),
        world.app.deposit(Deposit(token, number, 10, "w-1")),
        world.app.close_account(CloseAccount(token, number, "w-1")),
    ):
        with pytest.raises(IdempotencyKeyReused):
            await other
    assert world.balance(number) == 90 and len(world.store.outbox) == published


async def test_keys_are_per_caller(world: World) -> None:
    first_id, first = await world.customer()
    second_id, second = await world.customer()
    a = await world.app.open_account(OpenAccount(first, first_id, "SAVINGS", "same-key"))
    b = await world.app.open_account(OpenAccount(second, second_id, "SAVINGS", "same-key"))
    assert a.account_number != b.account_number and b.customer_id == second_id


async def test_a_refused_command_does_not_spend_its_key(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=10)
    with pytest.raises(InsufficientFunds):
        await world.app.withdraw(Withdraw(token, number, 20, "w-2"))
    await world.app.deposit(Deposit(token, number, 10, key()))
    assert (await world.app.withdraw(Withdraw(token, number, 20, "w-2"))).balance == 0


@pytest.mark.parametrize("bad_key", ["", "k" * 65, "tab\there", "new\nline", "키", "\x7f"])
async def test_idempotency_keys_are_1_to_64_printable_ascii(world: World, bad_key: str) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id)
    with pytest.raises(InvalidArgument, match="idempotency_key"):
        await world.app.deposit(Deposit(token, number, 1, bad_key))
    assert (await world.app.deposit(Deposit(token, number, 1, "~" + " " * 62 + "!"))).balance == 1


# -- callers ------------------------------------------------------------------------------------------------


async def test_every_call_needs_a_valid_token_checked_first(world: World) -> None:
    customer_id, token = await world.customer()
    number = await world.account(token, customer_id, balance=10)
    world.clock.advance(minutes=5)  # the token has expired
    for bad in ("", "forged", "x" * 5000, token):
        for call in (
            world.app.get_account(GetAccount(bad, number)),
            world.app.deposit(Deposit(bad, "not a number", -1, "")),
            world.app.withdraw(Withdraw(bad, number, 1, key())),
            world.app.transfer(Transfer(bad, number, number, 1, key())),
            world.app.close_account(CloseAccount(bad, number, key())),
            world.app.open_account(OpenAccount(bad, customer_id, "SAVINGS", key())),
        ):
            with pytest.raises(InvalidToken):
                await call
    assert world.balance(number) == 10


@pytest.mark.parametrize("number", ["", "123", "11000000000016", "1100000000001５"])
async def test_malformed_account_numbers_are_invalid_arguments(world: World, number: str) -> None:
    _, token = await world.customer()
    with pytest.raises(InvalidArgument):
        await world.app.get_account(GetAccount(token, number))
