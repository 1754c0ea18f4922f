"""What the customer context needs from the outside world."""

from __future__ import annotations

from typing import Protocol

from domain.customer.model import Customer
from domain.shared.ports import UnitOfWork


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None:
        """Store a new customer."""
        ...

    async def get(self, customer_id: str) -> Customer | None:
        """The customer with this id, for change in this unit of work; None if there is none."""
        ...


class CustomerUnitOfWork(UnitOfWork, Protocol):
    customers: CustomerRepository
