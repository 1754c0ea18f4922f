"""The base of every SQLAlchemy repository: explicit row <-> aggregate mapping, an identity map (one object
per row within a unit of work), and writes at commit time guarded by the aggregate's version, so that a
concurrent change is detected instead of overwritten."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.shared.aggregate import Aggregate
from domain.shared.errors import AlreadyExists, FailedPrecondition

A = TypeVar("A", bound=Aggregate)


class ConcurrentChange(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("changed by another request at the same time; try again")


@functools.cache
def _select_by(table: Table, column: str) -> Select[Any]:
    """SELECT ... FOR UPDATE of a table's rows by one column, built once per table and column: building a
    statement and deriving its cache key on every call cost SQLAlchemy more than running it."""
    return select(table).where(table.c[column] == bindparam("value")).with_for_update()


class SqlRepository(Generic[A]):
    table: ClassVar[Table]
    key: ClassVar[str]  # the primary key column, also the aggregate's attribute

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._added: list[A] = []
        self._loaded: dict[str, tuple[A, int]] = {}

    # subclasses map rows and aggregates explicitly
    def to_row(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def from_row(self, row: Any) -> A:
        """Rehydration only: validates nothing and records no event."""
        raise NotImplementedError

    async def add(self, aggregate: A) -> None:
        self._added.append(aggregate)

    async def _one(self, column: str, value: Any) -> A | None:
        found = await self._many(column, value)
        return found[0] if found else None

    async def _many(self, column: str, value: Any) -> list[A]:
        """The aggregates whose `column` equals `value`, locked for this unit of work."""
        return self._aggregates(await self._conn.execute(_select_by(self.table, column), {"value": value}))

    async def _matching(self, *where: ColumnElement[bool]) -> list[A]:
        """The aggregates that match `where` (a statement built for this call), locked for this unit of work."""
        return self._aggregates(await self._conn.execute(select(self.table).where(*where).with_for_update()))

    def _aggregates(self, rows: Iterable[Row[Any]]) -> list[A]:
        result = []
        for row in rows:
            key = row._mapping[self.key]
            if key not in self._loaded:
                aggregate = self.from_row(row._mapping)
                self._loaded[key] = (aggregate, aggregate.version)  # type: ignore[attr-defined]
            result.append(self._loaded[key][0])
        return result

    async def flush(self) -> None:
        try:
            if self._added:
                await self._conn.execute(insert(self.table), [self.to_row(a) for a in self._added])
        except IntegrityError:
            raise AlreadyExists("already exists") from None
        pk = self.table.c[self.key]
        for aggregate, loaded_version in self._loaded.values():
            if aggregate.version == loaded_version:  # type: ignore[attr-defined]
                continue
            result = await self._conn.execute(
                update(self.table)
                .where(pk == getattr(aggregate, self.key), self.table.c.version == loaded_version)
                .values(self.to_row(aggregate))
            )
            if result.rowcount != 1:
                raise ConcurrentChange()

    def seen(self) -> list[Aggregate]:
        return [*self._added, *(a for a, _ in self._loaded.values())]
