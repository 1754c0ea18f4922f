"""One fake per port, for tests of the hexagon's inside. The contract suites in tests/contract run the same
checks against these fakes and the real adapters, so the fakes cannot drift."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from domain.customer.model import Customer
from domain.shared.events import DomainEvent


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakeInbox:
    def __init__(self, processed: set[str]) -> None:
        self._processed = processed
        self.pending: set[str] = set()

    async def first_delivery(self, message_id: str) -> bool:
        if message_id in self._processed or message_id in self.pending:
            return False
        self.pending.add(message_id)
        return True


class FakeStore:
    """What a fake database holds: rows by key, the committed outbox, the processed message ids."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.outbox: list[DomainEvent] = []
        self.processed: set[str] = set()


class FakeCustomerRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self.seen: list[Customer] = []

    async def add(self, customer: Customer) -> None:
        self.seen.append(customer)

    async def get(self, customer_id: str) -> Customer | None:
        row = self._store.rows.get(customer_id)
        if row is None:
            return None
        customer = copy.deepcopy(row)  # a copy, as a database would give: changes count only when committed
        self.seen.append(customer)
        return customer


class FakeCustomerUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.customers = FakeCustomerRepository(self.store)
        self.inbox = FakeInbox(self.store.processed)
        self._recorded: list[DomainEvent] = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass  # uncommitted work is simply dropped

    def record(self, *events: DomainEvent) -> None:
        self._recorded.extend(events)

    async def commit(self) -> None:
        for customer in self.customers.seen:
            self.store.outbox.extend(customer.take_events())
            self.store.rows[customer.customer_id] = copy.deepcopy(customer)
        self.store.outbox.extend(self._recorded)
        self.store.processed |= self.inbox.pending
        self.committed = True
