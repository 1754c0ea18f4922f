"""The account service's tables and repositories: accounts, the idempotency records of its commands, and the
replica of customer status; explicit row <-> aggregate mapping on SQLAlchemy Core.

A balance is a signed 64-bit integer with a CHECK that it is never negative: the domain already refuses an
overdraft, the constraint makes a bug fail loudly instead of storing one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, MetaData, String, Table, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.outbound.sqlalchemy.outbox import inbox_table, outbox_table
from adapters.outbound.sqlalchemy.repository import SqlRepository
from adapters.outbound.sqlalchemy.standings import SqlAlchemyCustomerStandings, standings_table
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, TrackingRepository
from domain.account.model import Account, AccountStatus
from domain.account.ports import IdempotencyRecord
from domain.shared.errors import AlreadyExists

metadata = MetaData(info={"service": "account"})  # the service's migrations: migrations/account
accounts = Table(
    "accounts",
    metadata,
    Column("account_number", String(14), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("product_code", String(32), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    # The repositories' optimistic guard (every table has one); for an account it is its sequence.
    Column("version", BigInteger, nullable=False),
    CheckConstraint("balance >= 0", name="ck_accounts_balance_not_negative"),
)
# One row per (caller, key): the request's digest and the first result, written with the change itself.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("idempotency_key", String(64), primary_key=True),
    Column("request_digest", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
)
customer_standings = standings_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class SqlAlchemyAccountRepository(SqlRepository[Account]):
    table = accounts
    key = "account_number"

    async def get(self, account_number: str) -> Account | None:
        return await self._one("account_number", account_number)

    def to_row(self, a: Account) -> dict[str, Any]:
        return {
            "account_number": a.account_number,
            "customer_id": a.customer_id,
            "product_code": a.product_code,
            "balance": a.balance,
            "sequence": a.sequence,
            "status": a.status.value,
            "opened_at": a.opened_at,
            "updated_at": a.updated_at,
            "version": a.version,
        }

    def from_row(self, row: Any) -> Account:
        return Account(
            account_number=row["account_number"],
            customer_id=row["customer_id"],
            product_code=row["product_code"],
            balance=row["balance"],
            sequence=row["sequence"],
            status=AccountStatus(row["status"]),
            opened_at=row["opened_at"],
            updated_at=row["updated_at"],
        )


class SqlAlchemyIdempotencyStore:
    """Written directly (no aggregate), in the unit of work's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, customer_id: str, key: str) -> IdempotencyRecord | None:
        t = idempotency_keys
        row = (
            await self._conn.execute(select(t).where(t.c.customer_id == customer_id, t.c.idempotency_key == key))
        ).first()
        if row is None:
            return None
        return IdempotencyRecord(row.customer_id, row.idempotency_key, row.request_digest, row.result, row.created_at)

    async def add(self, record: IdempotencyRecord) -> None:
        values = {
            "customer_id": record.customer_id,
            "idempotency_key": record.key,
            "request_digest": record.request_digest,
            "result": record.result,
            "created_at": record.created_at,
        }
        try:
            await self._conn.execute(insert(idempotency_keys).values(values))
        except IntegrityError:
            raise AlreadyExists("already exists") from None  # the same key committed by a concurrent request


class SqlAlchemyAccountUnitOfWork(SqlAlchemyUnitOfWork):
    accounts: SqlAlchemyAccountRepository
    idempotency: SqlAlchemyIdempotencyStore
    customers: SqlAlchemyCustomerStandings

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        self.accounts = SqlAlchemyAccountRepository(conn)
        self.idempotency = SqlAlchemyIdempotencyStore(conn)
        self.customers = SqlAlchemyCustomerStandings(conn, customer_standings)
        return [self.accounts]
