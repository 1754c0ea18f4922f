"""The my_accounts view in SQL: accounts as last seen, customer standings, revocations, and the projector's
freshness mark. The projector writes through a unit of work (in the same transaction as the inbox record);
queries read through SqlViewReader on a separate reader engine (engine.create_reader)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Executable,
    MetaData,
    Row,
    String,
    Table,
    and_,
    bindparam,
    exists,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.outbound.sqlalchemy.engine import begin_write, dispose
from adapters.outbound.sqlalchemy.outbox import inbox_table
from adapters.outbound.sqlalchemy.standings import SqlAlchemyCustomerStandings, standings_table
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, TrackingRepository, read
from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus
from domain.shared.standing import CustomerStanding, CustomerStatus

metadata = MetaData(info={"service": "my_accounts"})  # the service's migrations: migrations/my_accounts
view_accounts = Table(
    "view_accounts",
    metadata,
    Column("account_number", String(32), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("product_code", String(32), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("as_of", UtcTimestamp, nullable=False),
)
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("revoked_at", UtcTimestamp, nullable=False),
)
member_revocations = Table(
    "member_revocations",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("revoked_before", UtcTimestamp, nullable=False),
)
projection_status = Table(
    "projection_status",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("caught_up_at", UtcTimestamp, nullable=False),
)
customer_standings = standings_table(metadata)
inbox = inbox_table(metadata)
PROJECTION = "my_accounts"


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _upsert(conn: AsyncConnection, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
    stmt = _insert(conn, table).values(values)
    return stmt.on_conflict_do_update(index_elements=keys, set_={k: stmt.excluded[k] for k in values if k not in keys})


def _account(row: Any) -> ViewedAccount:
    return ViewedAccount(
        row.account_number,
        row.customer_id,
        row.product_code,
        row.balance,
        row.sequence,
        ViewedAccountStatus(row.status),
        row.as_of,
    )


class SqlViewedAccounts:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, account_number: str) -> ViewedAccount | None:
        row = (
            await self._conn.execute(select(view_accounts).where(view_accounts.c.account_number == account_number))
        ).first()
        return None if row is None else _account(row)

    async def put(self, a: ViewedAccount) -> None:
        values = {
            "account_number": a.account_number,
            "customer_id": a.customer_id,
            "product_code": a.product_code,
            "balance": a.balance,
            "sequence": a.sequence,
            "status": a.status.value,
            "as_of": a.as_of,
        }
        # Only ever forward: the projector puts an account only when the event is newer than what it read, and
        # the guard keeps that true when two projector transactions race (PostgreSQL at READ COMMITTED; SQLite
        # serializes them anyway): the older one's write then changes nothing.
        stmt = _insert(self._conn, view_accounts).values(values)
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_number"],
                set_={k: stmt.excluded[k] for k in values if k != "account_number"},
                where=view_accounts.c.sequence < stmt.excluded.sequence,
            )
        )


class SqlRevocations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def revoke_sessions(self, session_ids: tuple[str, ...], at: datetime) -> None:
        rows = [{"session_id": session_id, "revoked_at": at} for session_id in session_ids]
        await self._conn.execute(_insert(self._conn, revoked_sessions).values(rows).on_conflict_do_nothing())

    async def revoke_member(self, member_id: str, before: datetime) -> None:
        stmt = _insert(self._conn, member_revocations).values(member_id=member_id, revoked_before=before)
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["member_id"],
                set_={"revoked_before": stmt.excluded.revoked_before},
                where=member_revocations.c.revoked_before < stmt.excluded.revoked_before,
            )
        )


class SqlAlchemyProjectionUnitOfWork(SqlAlchemyUnitOfWork):
    accounts: SqlViewedAccounts
    customers: SqlAlchemyCustomerStandings
    revocations: SqlRevocations

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        self.accounts = SqlViewedAccounts(conn)
        self.customers = SqlAlchemyCustomerStandings(conn, customer_standings)
        self.revocations = SqlRevocations(conn)
        return []


async def mark_caught_up(engine: AsyncEngine, at: datetime) -> None:
    """Record that the projector has applied everything published up to `at`."""
    async with begin_write(engine) as conn:
        await conn.execute(_upsert(conn, projection_status, {"name": PROJECTION, "caught_up_at": at}, ["name"]))


# The view's queries, built once. A statement built per call cost more than the read itself: SQLAlchemy builds
# it, then derives its cache key to find the compiled SQL (`taskset -c 1 python -m bench.view_reads 3000`:
# the four reads of a ListMyAccounts took 1.3-1.5 ms of CPU built per call, 0.35-0.39 ms prebuilt).
_ACCOUNTS_OF = (
    select(view_accounts)
    .where(
        view_accounts.c.customer_id == bindparam("customer_id"),
        view_accounts.c.status == ViewedAccountStatus.OPEN.value,
    )
    .order_by(view_accounts.c.account_number)
)
_PAGE = (
    select(view_accounts)
    .where(view_accounts.c.account_number > bindparam("after"))
    .order_by(view_accounts.c.account_number)
    .limit(bindparam("limit"))
)
_STANDING = select(customer_standings).where(customer_standings.c.customer_id == bindparam("customer_id"))
_IS_REVOKED = select(
    or_(
        exists().where(revoked_sessions.c.session_id == bindparam("session_id")),
        exists().where(
            and_(
                member_revocations.c.member_id == bindparam("member_id"),
                member_revocations.c.revoked_before >= bindparam("issued_at", type_=UtcTimestamp()),
            )
        ),
    )
)
_CAUGHT_UP_AT = select(projection_status.c.caught_up_at).where(projection_status.c.name == PROJECTION)


class SqlViewReader:
    """The view's queries, one statement each, through a reader engine (engine.create_reader). The service
    reads PostgreSQL this way; SQLite it reads through sqlite3 itself (adapters/outbound/sqlite), which costs
    a tenth (bench.view_reads measures both on SQLite)."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        self._engine = engine

    async def close(self) -> None:
        await dispose(self._engine)

    async def _rows(self, query: Executable, **params: Any) -> list[Row[Any]]:
        return await read(self._engine, query, params)

    async def accounts_of(self, customer_id: str) -> list[ViewedAccount]:
        return [_account(r) for r in await self._rows(_ACCOUNTS_OF, customer_id=customer_id)]

    async def page(self, after: str, limit: int) -> list[ViewedAccount]:
        return [_account(r) for r in await self._rows(_PAGE, after=after, limit=limit)]

    async def standing(self, customer_id: str) -> CustomerStanding | None:
        rows = await self._rows(_STANDING, customer_id=customer_id)
        return (
            None if not rows else CustomerStanding(rows[0].customer_id, CustomerStatus(rows[0].status), rows[0].version)
        )

    async def is_revoked(self, session_id: str, member_id: str, issued_at: datetime) -> bool:
        rows = await self._rows(_IS_REVOKED, session_id=session_id, member_id=member_id, issued_at=issued_at)
        return bool(rows[0][0])

    async def caught_up_at(self) -> datetime | None:
        rows = await self._rows(_CAUGHT_UP_AT)
        return rows[0][0] if rows else None
