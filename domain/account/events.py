"""What happened to an account. Each carries the account's sequence after the change (1 at opening, +1 per
change), so that read models apply an account's events in order and ignore stale or repeated ones."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.shared.events import DomainEvent


class BalanceChangeKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"


@dataclass(frozen=True, kw_only=True)
class AccountEvent(DomainEvent):
    account_number: str
    sequence: int


@dataclass(frozen=True, kw_only=True)
class AccountOpened(AccountEvent):
    product_code: str


@dataclass(frozen=True, kw_only=True)
class BalanceChanged(AccountEvent):
    balance: int  # the new absolute balance
    delta: int  # signed: negative for money out
    kind: BalanceChangeKind
    correlation_id: str  # of the command; both sides of a transfer share it


@dataclass(frozen=True, kw_only=True)
class AccountClosed(AccountEvent):
    pass
