"""What the view holds per customer: its accounts with balance, sequence and `as_of` (when that balance was
true at the source), the customer's standing, and what was revoked. Changes apply only if newer than what
is held (by sequence or version), so duplicates, replays and late arrivals cannot move the view backwards."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class ViewedAccountStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class ViewedAccount:
    account_number: str
    customer_id: str
    product_code: str
    balance: int
    sequence: int
    status: ViewedAccountStatus
    as_of: datetime

    def advanced(self, sequence: int, as_of: datetime, **changes: object) -> ViewedAccount | None:
        """This account moved to `sequence`, or None if the view already holds that sequence or a newer one."""
        if sequence <= self.sequence:
            return None
        return replace(self, sequence=sequence, as_of=as_of, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Freshness:
    """How current the view is: it was known to have applied everything published up to `caught_up_at`."""

    caught_up_at: datetime | None
    threshold: timedelta

    def is_stale(self, now: datetime) -> bool:
        return self.caught_up_at is None or now - self.caught_up_at > self.threshold
