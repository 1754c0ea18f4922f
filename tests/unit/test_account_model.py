"""The Account aggregate and its value rules: account numbers with a Luhn check digit, product codes, amounts,
a balance that never goes below zero or above 2**63 - 1, one event and one sequence step per change."""

import pytest

from domain.account.errors import AccountNotOpen, BalanceLimitExceeded, BalanceNotZero, InsufficientFunds
from domain.account.events import AccountClosed, AccountOpened, BalanceChanged, BalanceChangeKind
from domain.account.model import (
    MAX_BALANCE,
    Account,
    AccountStatus,
    luhn_check_digit,
    new_account_number,
    parse_account_number,
    parse_amount,
    parse_product_code,
)
from domain.shared.errors import InvalidArgument
from tests.fakes import FakeClock

clock = FakeClock()
CUSTOMER = "2d5b6b84-ea31-4287-92fc-5c12b4d6f24e"


def opened(balance: int = 0) -> Account:
    account = Account.open(new_account_number(), CUSTOMER, "SAVINGS", clock.now())
    if balance:
        account.deposit(balance, "setup", clock.now())
    account.take_events()
    return account


def test_luhn_check_digit_of_the_textbook_example() -> None:
    assert luhn_check_digit("7992739871") == "3"


def test_new_account_numbers_are_14_digits_with_prefix_and_check_digit() -> None:
    numbers = {new_account_number() for _ in range(1000)}
    assert len(numbers) == 1000
    for number in numbers:
        assert len(number) == 14 and number.isdigit() and number.startswith("110")
        assert parse_account_number(number) == number


@pytest.mark.parametrize(
    "raw",
    ["", "1100000000001", "110000000000150", "1100000000001x", "１１００００００００００１５", " 11000000000015"],
)
def test_malformed_account_numbers_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_account_number(raw)


def test_a_single_wrong_digit_fails_the_check_digit() -> None:
    number = new_account_number()
    typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
    with pytest.raises(InvalidArgument, match="check digit"):
        parse_account_number(typo)


def test_product_codes_are_trimmed_and_uppercased() -> None:
    assert parse_product_code("  savings_2 ") == "SAVINGS_2"
    assert parse_product_code("A" * 32) == "A" * 32


@pytest.mark.parametrize("raw", ["", "   ", "A" * 33, "SAV-INGS", "SAV INGS", "savıngs", "ＳＡＶ", "예금"])
def test_bad_product_codes_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_product_code(raw)


@pytest.mark.parametrize("amount", [0, -1, -(2**63), 101, True, 2**63 - 1])
def test_amounts_outside_1_to_the_limit_are_invalid(amount: int) -> None:
    with pytest.raises(InvalidArgument):
        parse_amount(amount, 100)


def test_amounts_from_1_to_the_limit_are_accepted() -> None:
    assert (parse_amount(1, 100), parse_amount(100, 100)) == (1, 100)


def test_opening_records_account_opened_with_sequence_1() -> None:
    account = Account.open("11000000000015", CUSTOMER, "SAVINGS", clock.now())
    assert (account.balance, account.sequence, account.version, account.status) == (0, 1, 1, AccountStatus.OPEN)
    [event] = account.take_events()
    assert isinstance(event, AccountOpened)
    assert (event.account_number, event.customer_id, event.product_code, event.sequence) == (
        "11000000000015",
        CUSTOMER,
        "SAVINGS",
        1,
    )


def test_each_balance_change_records_the_new_balance_delta_and_sequence() -> None:
    account = opened()
    account.deposit(1_000, "cid-1", clock.now())
    account.withdraw(300, "cid-2", clock.now())
    account.withdraw(200, "cid-3", clock.now(), BalanceChangeKind.TRANSFER_OUT)
    account.deposit(50, "cid-4", clock.now(), BalanceChangeKind.TRANSFER_IN)
    assert (account.balance, account.sequence, account.version) == (550, 5, 5)
    events = account.take_events()
    assert all(isinstance(e, BalanceChanged) for e in events)
    assert [(e.balance, e.delta, e.sequence, e.kind, e.correlation_id) for e in events] == [
        (1_000, 1_000, 2, BalanceChangeKind.DEPOSIT, "cid-1"),
        (700, -300, 3, BalanceChangeKind.WITHDRAWAL, "cid-2"),
        (500, -200, 4, BalanceChangeKind.TRANSFER_OUT, "cid-3"),
        (550, 50, 5, BalanceChangeKind.TRANSFER_IN, "cid-4"),
    ]


def test_a_withdrawal_never_goes_below_zero() -> None:
    account = opened(balance=100)
    account.withdraw(100, "cid", clock.now())
    with pytest.raises(InsufficientFunds):
        account.withdraw(1, "cid", clock.now())
    assert (account.balance, account.sequence) == (0, 3)
    assert len(account.take_events()) == 1


def test_the_balance_never_passes_2_pow_63_minus_1() -> None:
    account = opened(balance=MAX_BALANCE - 1)
    with pytest.raises(BalanceLimitExceeded):
        account.deposit(2, "cid", clock.now())
    account.deposit(1, "cid", clock.now())
    assert account.balance == MAX_BALANCE
    with pytest.raises(BalanceLimitExceeded):
        account.deposit(1, "cid", clock.now())
    assert account.balance == MAX_BALANCE


@pytest.mark.parametrize("amount", [0, -5])
def test_the_aggregate_itself_refuses_non_positive_amounts(amount: int) -> None:
    account = opened(balance=10)
    with pytest.raises(InvalidArgument):
        account.deposit(amount, "cid", clock.now())
    with pytest.raises(InvalidArgument):
        account.withdraw(amount, "cid", clock.now())
    assert (account.balance, account.take_events()) == (10, [])


def test_a_change_kind_must_match_its_direction() -> None:
    account = opened(balance=10)
    with pytest.raises(ValueError):
        account.deposit(1, "cid", clock.now(), BalanceChangeKind.WITHDRAWAL)
    with pytest.raises(ValueError):
        account.withdraw(1, "cid", clock.now(), BalanceChangeKind.TRANSFER_IN)


def test_closing_needs_a_zero_balance_and_is_final() -> None:
    account = opened(balance=5)
    with pytest.raises(BalanceNotZero):
        account.close(clock.now())
    account.withdraw(5, "cid", clock.now())
    account.close(clock.now())
    assert (account.status, account.sequence) == (AccountStatus.CLOSED, 4)
    assert isinstance(account.take_events()[-1], AccountClosed)
    for refused in (
        lambda: account.deposit(1, "cid", clock.now()),
        lambda: account.withdraw(1, "cid", clock.now()),
        lambda: account.close(clock.now()),
    ):
        with pytest.raises(AccountNotOpen):
            refused()
    assert account.sequence == 4 and account.take_events() == []


def test_a_snapshot_restores_the_same_state_without_events() -> None:
    account = opened(balance=42)
    restored = Account.from_snapshot(account.snapshot())
    assert restored == account
    assert restored.pending_events == []
