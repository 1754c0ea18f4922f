"""A customer's standing as a downstream context knows it: the newest status seen in the customer events,
by the customer's version. Member, account and my_accounts each keep such a replica in their own
database, so none of them calls the customer service (and each works while it is down)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CustomerStatus(StrEnum):
    NORMAL = "NORMAL"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


@dataclass
class CustomerStanding:
    customer_id: str
    status: CustomerStatus
    version: int

    def is_normal(self) -> bool:
        return self.status is CustomerStatus.NORMAL

    def is_newer_than(self, other: CustomerStanding | None) -> bool:
        """Whether this standing should replace `other` (events may arrive twice or late)."""
        return other is None or self.version > other.version
