"""The Account aggregate (계좌): a customer's account for one product, its balance in integer KRW (never
negative, never above 2**63 - 1), and a sequence that counts its changes (1 at opening, +1 per balance change
or closing), carried by every event so read models apply them in order.

Status: OPEN --close (at zero balance)--> CLOSED (final). A closed account refuses every change."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.account.errors import AccountNotOpen, BalanceLimitExceeded, BalanceNotZero, InsufficientFunds
from domain.account.events import AccountClosed, AccountEvent, AccountOpened, BalanceChanged, BalanceChangeKind
from domain.shared.aggregate import Aggregate
from domain.shared.errors import InvalidArgument
from domain.shared.ids import new_id

ACCOUNT_NUMBER_PREFIX = "110"  # the bank's prefix for deposit accounts
ACCOUNT_NUMBER_LENGTH = 14
MAX_BALANCE = 2**63 - 1  # what a signed 64-bit column and the int64 of the contract hold
DEFAULT_MAX_AMOUNT = 100_000_000  # per transaction, in KRW
PRODUCT_CODE = re.compile(r"[A-Z0-9_]{1,32}")
_CREDITS = {BalanceChangeKind.DEPOSIT, BalanceChangeKind.TRANSFER_IN}
_DEBITS = {BalanceChangeKind.WITHDRAWAL, BalanceChangeKind.TRANSFER_OUT}


class AccountStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload` + digit pass the Luhn check (catches any single-digit typo and most
    swaps of neighbouring digits)."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


def new_account_number() -> str:
    """A fresh account number: the prefix, 10 random digits, the Luhn check digit. Unique only with high
    probability: the handler retries with another number if the insert finds it taken."""
    payload = f"{ACCOUNT_NUMBER_PREFIX}{secrets.randbelow(10**10):010d}"
    return payload + luhn_check_digit(payload)


def parse_account_number(raw: str, field: str = "account_number") -> str:
    """14 ASCII digits whose last is the Luhn check digit, or InvalidArgument."""
    if len(raw) != ACCOUNT_NUMBER_LENGTH or not (raw.isascii() and raw.isdigit()):
        raise InvalidArgument(field, f"must be an account number of {ACCOUNT_NUMBER_LENGTH} digits")
    if luhn_check_digit(raw[:-1]) != raw[-1]:
        raise InvalidArgument(field, "is not a valid account number (check digit)")
    return raw


def parse_product_code(raw: str) -> str:
    """Trimmed and uppercased: 1 to 32 characters of A-Z, 0-9 and '_', or InvalidArgument."""
    code = raw.strip()
    if not code.isascii() or not PRODUCT_CODE.fullmatch(code := code.upper()):
        raise InvalidArgument("product_code", "must be 1 to 32 characters of A-Z, 0-9 and '_'")
    return code


def parse_amount(amount: int, max_amount: int, field: str = "amount") -> int:
    """An integer amount of KRW from 1 to the per-transaction limit, or InvalidArgument."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidArgument(field, "must be an integer amount of KRW")
    if amount < 1:
        raise InvalidArgument(field, "must be at least 1")
    if amount > max_amount:
        raise InvalidArgument(field, f"must be at most {max_amount} (the per-transaction limit)")
    return amount


@dataclass(kw_only=True)
class Account(Aggregate):
    account_number: str
    customer_id: str
    product_code: str
    balance: int
    sequence: int
    status: AccountStatus
    opened_at: datetime
    updated_at: datetime

    @property
    def version(self) -> int:
        """The repository's optimistic-lock version: the sequence, which grows with every change."""
        return self.sequence

    @classmethod
    def open(cls, account_number: str, customer_id: str, product_code: str, now: datetime) -> Account:
        """A new OPEN account, balance 0, sequence 1; records AccountOpened. Arguments are already parsed."""
        account = cls(
            account_number=account_number,
            customer_id=customer_id,
            product_code=product_code,
            balance=0,
            sequence=1,
            status=AccountStatus.OPEN,
            opened_at=now,
            updated_at=now,
        )
        account._record(AccountOpened, now, product_code=product_code)
        return account

    def owned_by(self, customer_id: str) -> bool:
        return self.customer_id == customer_id

    def deposit(
        self, amount: int, correlation_id: str, now: datetime, kind: BalanceChangeKind = BalanceChangeKind.DEPOSIT
    ) -> None:
        """Credit an open account; the balance never passes MAX_BALANCE (BalanceLimitExceeded)."""
        if kind not in _CREDITS:
            raise ValueError(f"{kind} is not a credit")
        self._check_change(amount)
        if amount > MAX_BALANCE - self.balance:
            raise BalanceLimitExceeded()
        self._change(amount, kind, correlation_id, now)

    def withdraw(
        self, amount: int, correlation_id: str, now: datetime, kind: BalanceChangeKind = BalanceChangeKind.WITHDRAWAL
    ) -> None:
        """Debit an open account; the balance never goes below zero (InsufficientFunds)."""
        if kind not in _DEBITS:
            raise ValueError(f"{kind} is not a debit")
        self._check_change(amount)
        if amount > self.balance:
            raise InsufficientFunds()
        self._change(-amount, kind, correlation_id, now)

    def close(self, now: datetime) -> None:
        """OPEN -> CLOSED, only at zero balance; records AccountClosed."""
        if self.status is not AccountStatus.OPEN:
            raise AccountNotOpen()
        if self.balance != 0:
            raise BalanceNotZero()
        self.status = AccountStatus.CLOSED
        self.sequence += 1
        self.updated_at = now
        self._record(AccountClosed, now)

    def _check_change(self, amount: int) -> None:
        if self.status is not AccountStatus.OPEN:
            raise AccountNotOpen()
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            raise InvalidArgument("amount", "must be at least 1")

    def _change(self, delta: int, kind: BalanceChangeKind, correlation_id: str, now: datetime) -> None:
        self.balance += delta
        self.sequence += 1
        self.updated_at = now
        self._record(BalanceChanged, now, balance=self.balance, delta=delta, kind=kind, correlation_id=correlation_id)

    def _record(self, event: type[AccountEvent], now: datetime, **fields: Any) -> None:
        self.pending_events.append(
            event(
                event_id=new_id(),
                occurred_at=now,
                customer_id=self.customer_id,
                account_number=self.account_number,
                sequence=self.sequence,
                **fields,
            )
        )

    # -- snapshots: the state an idempotent retry answers with --------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The account's state as plain JSON-ready values (no events)."""
        return {
            "account_number": self.account_number,
            "customer_id": self.customer_id,
            "product_code": self.product_code,
            "balance": self.balance,
            "sequence": self.sequence,
            "status": self.status.value,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Account:
        """Rehydration of a snapshot: validates nothing and records no event."""
        return cls(
            account_number=data["account_number"],
            customer_id=data["customer_id"],
            product_code=data["product_code"],
            balance=data["balance"],
            sequence=data["sequence"],
            status=AccountStatus(data["status"]),
            opened_at=datetime.fromisoformat(data["opened_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
        )
