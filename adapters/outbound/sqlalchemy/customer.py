"""The customer service's tables and its repository: explicit row <-> aggregate mapping on SQLAlchemy Core."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.outbound.sqlalchemy.outbox import inbox_table, outbox_table
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, TrackingRepository
from domain.customer.model import Customer, CustomerStatus
from domain.shared.aggregate import Aggregate
from domain.shared.errors import FailedPrecondition

metadata = MetaData()
customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("name", String(400), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("registered_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class ConcurrentChange(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("the customer was changed by another request; try again")


class SqlAlchemyCustomerRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._added: list[Customer] = []
        self._loaded: dict[str, tuple[Customer, int]] = {}

    async def add(self, customer: Customer) -> None:
        self._added.append(customer)

    async def get(self, customer_id: str) -> Customer | None:
        row = (
            await self._conn.execute(select(customers).where(customers.c.customer_id == customer_id).with_for_update())
        ).first()
        if row is None:
            return None
        customer = _customer_from_row(row._mapping)
        self._loaded[customer_id] = (customer, customer.version)
        return customer

    async def flush(self) -> None:
        if self._added:
            await self._conn.execute(insert(customers), [_row(c) for c in self._added])
        for customer, loaded_version in self._loaded.values():
            if customer.version == loaded_version:
                continue
            result = await self._conn.execute(
                update(customers)
                .where(customers.c.customer_id == customer.customer_id, customers.c.version == loaded_version)
                .values(_row(customer))
            )
            if result.rowcount != 1:
                raise ConcurrentChange()

    def seen(self) -> list[Aggregate]:
        return [*self._added, *(c for c, _ in self._loaded.values())]


class SqlAlchemyCustomerUnitOfWork(SqlAlchemyUnitOfWork):
    customers: SqlAlchemyCustomerRepository

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        self.customers = SqlAlchemyCustomerRepository(conn)
        return [self.customers]


def _row(c: Customer) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "name": c.name,
        "status": c.status.value,
        "version": c.version,
        "registered_at": c.registered_at,
        "updated_at": c.updated_at,
    }


def _customer_from_row(row: Any) -> Customer:
    """Rehydration only: validates nothing and records no event."""
    return Customer(
        customer_id=row["customer_id"],
        name=row["name"],
        status=CustomerStatus(row["status"]),
        version=row["version"],
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
    )
