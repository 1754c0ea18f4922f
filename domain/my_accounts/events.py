"""The facts the view is built from, as the view sees them (translated from the integration events of the
customer, member and account contexts by the Kafka inbound adapter). The view records no events itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AccountOpened:
    account_number: str
    customer_id: str
    product_code: str
    sequence: int
    occurred_at: datetime


@dataclass(frozen=True)
class BalanceChanged:
    account_number: str
    customer_id: str
    balance: int
    sequence: int
    occurred_at: datetime


@dataclass(frozen=True)
class AccountClosed:
    account_number: str
    customer_id: str
    sequence: int
    occurred_at: datetime


@dataclass(frozen=True)
class SessionsRevoked:
    """Either the listed sessions, or (all_sessions) every session of the member issued before occurred_at."""

    member_id: str
    customer_id: str
    session_ids: tuple[str, ...]
    all_sessions: bool
    occurred_at: datetime
