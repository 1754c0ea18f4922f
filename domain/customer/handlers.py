"""The customer context's use cases: load, ask the aggregate, commit (the events leave through the outbox
in the same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.customer.commands import RegisterCustomer, ReinstateCustomer, SuspendCustomer, TerminateCustomer
from domain.customer.errors import CustomerNotFound
from domain.customer.model import Customer
from domain.customer.ports import CustomerUnitOfWork
from domain.shared.clock import Clock
from domain.shared.ids import parse_id


class CustomerApplication:
    """The facade inbound adapters call: one method per command or query."""

    def __init__(self, uow: Callable[[], CustomerUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def register_customer(self, cmd: RegisterCustomer) -> Customer:
        customer = Customer.register(cmd.name, self._clock.now())
        async with self._uow() as tx:
            await tx.customers.add(customer)
            await tx.commit()
        return customer

    async def get_customer(self, customer_id: str) -> Customer:
        async with self._uow() as tx:
            return await self._load(tx, customer_id)

    async def suspend_customer(self, cmd: SuspendCustomer) -> Customer:
        return await self._change(cmd.customer_id, Customer.suspend)

    async def reinstate_customer(self, cmd: ReinstateCustomer) -> Customer:
        return await self._change(cmd.customer_id, Customer.reinstate)

    async def terminate_customer(self, cmd: TerminateCustomer) -> Customer:
        return await self._change(cmd.customer_id, Customer.terminate)

    async def _change(self, customer_id: str, action: Callable[[Customer, datetime], None]) -> Customer:
        async with self._uow() as tx:
            customer = await self._load(tx, customer_id)
            action(customer, self._clock.now())
            await tx.commit()
        return customer

    @staticmethod
    async def _load(tx: CustomerUnitOfWork, customer_id: str) -> Customer:
        customer = await tx.customers.get(parse_id(customer_id, "customer_id"))
        if customer is None:
            raise CustomerNotFound()
        return customer
