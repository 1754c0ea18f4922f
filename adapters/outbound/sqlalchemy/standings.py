"""The customer-status replica table, the same in every consuming service's own database."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, Select, String, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.shared.standing import CustomerStanding, CustomerStatus


def standings_table(metadata: MetaData) -> Table:
    return Table(
        "customer_standings",
        metadata,
        Column("customer_id", String(36), primary_key=True),
        Column("status", String(16), nullable=False),
        Column("version", BigInteger, nullable=False),
    )


@functools.cache
def _select_standing(table: Table) -> Select[Any]:
    """Built once per table (each service has its own): see repository._select_by."""
    return select(table).where(table.c.customer_id == bindparam("customer_id"))


class SqlAlchemyCustomerStandings:
    """Written directly (no aggregate): an upsert that only ever moves to a newer version."""

    def __init__(self, conn: AsyncConnection, table: Table) -> None:
        self._conn, self._table = conn, table

    async def get(self, customer_id: str) -> CustomerStanding | None:
        row = (await self._conn.execute(_select_standing(self._table), {"customer_id": customer_id})).first()
        return None if row is None else CustomerStanding(row.customer_id, CustomerStatus(row.status), row.version)

    async def put(self, standing: CustomerStanding) -> None:
        values = {"customer_id": standing.customer_id, "status": standing.status.value, "version": standing.version}
        upsert = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        stmt = upsert(self._table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[self._table.c.customer_id],
            set_={"status": stmt.excluded.status, "version": stmt.excluded.version},
            where=self._table.c.version < stmt.excluded.version,
        )
        await self._conn.execute(stmt)
