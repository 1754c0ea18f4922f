"""The base of every domain event: an id (the CloudEvents `ce_id`, used by consumers to skip duplicates),
the time it happened, and the customer it concerns (the correlation key, so one customer's events stay
in order)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    event_id: str
    occurred_at: datetime
    customer_id: str
