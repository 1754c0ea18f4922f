"""Ports every context's unit of work offers, whatever it stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from domain.shared.events import DomainEvent
from domain.shared.standing import CustomerStanding


class Inbox(Protocol):
    async def first_delivery(self, message_id: str) -> bool:
        """Record `message_id` as processed in the current transaction; False if it already was (a duplicate)."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Rolls back unless committed; on commit, the events of every aggregate it saw go to
    the outbox in the same transaction, so a committed change and its events are never separated."""

    inbox: Inbox

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def commit(self) -> None: ...

    def record(self, *events: DomainEvent) -> None:
        """Publish these events with this transaction (for events of no single loaded aggregate)."""
        ...


class CustomerStandings(Protocol):
    """The context's replica of customer status, fed by customer events."""

    async def get(self, customer_id: str) -> CustomerStanding | None: ...

    async def put(self, standing: CustomerStanding) -> None:
        """Store `standing` unless a newer version is already stored."""
        ...


@dataclass(frozen=True)
class OutboxStatus:
    """How far a service's outbox relay is behind: what operators watch (`bank outbox status`)."""

    pending: int
    oldest_pending_at: datetime | None
    sent: int
    last_sent_at: datetime | None


class OutboxMonitor(Protocol):
    async def status(self) -> OutboxStatus: ...
