"""The customer service's tables and its repository: explicit row <-> aggregate mapping on SQLAlchemy Core."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.outbound.sqlalchemy.outbox import inbox_table, outbox_table
from adapters.outbound.sqlalchemy.repository import SqlRepository
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, TrackingRepository
from domain.customer.model import Customer, CustomerStatus

metadata = MetaData(info={"service": "customer"})  # the service's migrations: migrations/customer
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


class SqlAlchemyCustomerRepository(SqlRepository[Customer]):
    table = customers
    key = "customer_id"

    async def get(self, customer_id: str) -> Customer | None:
        return await self._one("customer_id", customer_id)

    def to_row(self, c: Customer) -> dict[str, Any]:
        return {
            "customer_id": c.customer_id,
            "name": c.name,
            "status": c.status.value,
            "version": c.version,
            "registered_at": c.registered_at,
            "updated_at": c.updated_at,
        }

    def from_row(self, row: Any) -> Customer:
        return Customer(
            customer_id=row["customer_id"],
            name=row["name"],
            status=CustomerStatus(row["status"]),
            version=row["version"],
            registered_at=row["registered_at"],
            updated_at=row["updated_at"],
        )


class SqlAlchemyCustomerUnitOfWork(SqlAlchemyUnitOfWork):
    customers: SqlAlchemyCustomerRepository

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        self.customers = SqlAlchemyCustomerRepository(conn)
        return [self.customers]
