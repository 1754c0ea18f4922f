"""The Customer aggregate: a person the bank knows, with a status that only moves along allowed transitions.

NORMAL --suspend--> SUSPENDED --reinstate--> NORMAL
NORMAL | SUSPENDED --terminate--> TERMINATED (final)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.customer.errors import TransitionNotAllowed
from domain.customer.events import (
    CustomerEvent,
    CustomerRegistered,
    CustomerReinstated,
    CustomerSuspended,
    CustomerTerminated,
)
from domain.shared.aggregate import Aggregate
from domain.shared.errors import InvalidArgument
from domain.shared.ids import new_id

NAME_MAX_LENGTH = 100


class CustomerStatus(StrEnum):
    NORMAL = "NORMAL"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


def parse_name(raw: str) -> str:
    """A customer name: trimmed, NFC, 1 to 100 characters, no control or format characters."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise InvalidArgument("name", "must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidArgument("name", f"must be at most {NAME_MAX_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise InvalidArgument("name", "must not contain control or invisible characters")
    return name


@dataclass(kw_only=True)
class Customer(Aggregate):
    customer_id: str
    name: str
    status: CustomerStatus
    version: int
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def register(cls, name: str, now: datetime) -> Customer:
        """A new customer in NORMAL status, version 1; records CustomerRegistered."""
        customer = cls(
            customer_id=new_id(),
            name=parse_name(name),
            status=CustomerStatus.NORMAL,
            version=1,
            registered_at=now,
            updated_at=now,
        )
        customer._record(CustomerRegistered, now)
        return customer

    def suspend(self, now: datetime) -> None:
        """NORMAL -> SUSPENDED."""
        self._move("suspended", {CustomerStatus.NORMAL}, CustomerStatus.SUSPENDED, CustomerSuspended, now)

    def reinstate(self, now: datetime) -> None:
        """SUSPENDED -> NORMAL."""
        self._move("reinstated", {CustomerStatus.SUSPENDED}, CustomerStatus.NORMAL, CustomerReinstated, now)

    def terminate(self, now: datetime) -> None:
        """NORMAL or SUSPENDED -> TERMINATED, for good."""
        allowed = {CustomerStatus.NORMAL, CustomerStatus.SUSPENDED}
        self._move("terminated", allowed, CustomerStatus.TERMINATED, CustomerTerminated, now)

    def _move(
        self,
        action: str,
        allowed: set[CustomerStatus],
        target: CustomerStatus,
        event: type[CustomerEvent],
        now: datetime,
    ) -> None:
        if self.status not in allowed:
            raise TransitionNotAllowed(action, self.status)
        self.status = target
        self.version += 1
        self.updated_at = now
        self._record(event, now)

    def _record(self, event: type[CustomerEvent], now: datetime) -> None:
        self.pending_events.append(
            event(event_id=new_id(), occurred_at=now, customer_id=self.customer_id, customer_version=self.version)
        )
