"""The member service's tables and repositories: banking members, sessions with their refresh token digests,
and the replica of customer status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.outbound.sqlalchemy.outbox import inbox_table, outbox_table
from adapters.outbound.sqlalchemy.repository import SqlRepository
from adapters.outbound.sqlalchemy.standings import SqlAlchemyCustomerStandings, standings_table
from adapters.outbound.sqlalchemy.types import UtcTimestamp
from adapters.outbound.sqlalchemy.uow import SqlAlchemyUnitOfWork, TrackingRepository, read
from domain.member.model import BankingMember, MemberStatus
from domain.member.session import Session

metadata = MetaData(info={"service": "member"})  # the service's migrations: migrations/member
members = Table(
    "members",
    metadata,
    Column("member_id", String(36), primary_key=True),
    # One banking member per customer, ever (CustomerAlreadyEnrolled): unique here too, so that two enrollments
    # racing on PostgreSQL (READ COMMITTED: both can see no member yet) cannot both commit (migration 0002).
    Column("customer_id", String(36), nullable=False, index=True, unique=True),
    Column("banking_id", String(32), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failed_attempts", Integer, nullable=False),
    Column("last_failure_at", UtcTimestamp, nullable=True),
    Column("lock_count", Integer, nullable=False),
    Column("locked_until", UtcTimestamp, nullable=True),
    Column("enrolled_at", UtcTimestamp, nullable=False),
    Column("version", BigInteger, nullable=False),
)
sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("member_id", String(36), ForeignKey("members.member_id"), nullable=False, index=True),
    Column("customer_id", String(36), nullable=False),
    Column("refresh_digest", String(64), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("expires_at", UtcTimestamp, nullable=False),
    Column("revoked_at", UtcTimestamp, nullable=True),
    Column("version", BigInteger, nullable=False),
)
# Every refresh token digest ever issued, current or spent, so that a spent one is recognized when replayed.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("session_id", String(36), ForeignKey("sessions.session_id"), nullable=False),
)
customer_standings = standings_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class SqlAlchemyMemberRepository(SqlRepository[BankingMember]):
    table = members
    key = "member_id"

    async def get(self, member_id: str) -> BankingMember | None:
        return await self._one("member_id", member_id)

    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        return await self._one("banking_id", banking_id)

    async def of_customer(self, customer_id: str) -> list[BankingMember]:
        return await self._many("customer_id", customer_id)

    def to_row(self, m: BankingMember) -> dict[str, Any]:
        return {
            "member_id": m.member_id,
            "customer_id": m.customer_id,
            "banking_id": m.banking_id,
            "password_hash": m.password_hash,
            "status": m.status.value,
            "failed_attempts": m.failed_attempts,
            "last_failure_at": m.last_failure_at,
            "lock_count": m.lock_count,
            "locked_until": m.locked_until,
            "enrolled_at": m.enrolled_at,
            "version": m.version,
        }

    def from_row(self, row: Any) -> BankingMember:
        return _member(row)


def _member(row: Any) -> BankingMember:
    return BankingMember(
        member_id=row["member_id"],
        customer_id=row["customer_id"],
        banking_id=row["banking_id"],
        password_hash=row["password_hash"],
        status=MemberStatus(row["status"]),
        failed_attempts=row["failed_attempts"],
        last_failure_at=row["last_failure_at"],
        lock_count=row["lock_count"],
        locked_until=row["locked_until"],
        enrolled_at=row["enrolled_at"],
        version=row["version"],
    )


class SqlAlchemySessionRepository(SqlRepository[Session]):
    table = sessions
    key = "session_id"

    async def get(self, session_id: str) -> Session | None:
        return await self._one("session_id", session_id)

    async def by_refresh_digest(self, digest: str) -> Session | None:
        owner = select(refresh_tokens.c.session_id).where(refresh_tokens.c.digest == digest).scalar_subquery()
        found = await self._matching(sessions.c.session_id == owner)
        return found[0] if found else None

    async def active_of_member(self, member_id: str) -> list[Session]:
        return await self._matching(sessions.c.member_id == member_id, sessions.c.revoked_at.is_(None))

    async def flush(self) -> None:
        await super().flush()
        # Every digest issued in this unit of work, current or already spent (a session may rotate more than
        # once before commit). A loaded session's first spent digest is the one it was loaded with: stored already.
        issued = [(s, (*s.spent_digests, s.refresh_digest)) for s in self._added]
        issued += [(s, (*s.spent_digests[1:], s.refresh_digest)) for s, _ in self._loaded.values() if s.spent_digests]
        fresh = [{"digest": d, "session_id": s.session_id} for s, digests in issued for d in digests]
        if fresh:
            await self._conn.execute(insert(refresh_tokens), fresh)
        for s in [*self._added, *(s for s, _ in self._loaded.values())]:
            s.spent_digests = ()

    def to_row(self, s: Session) -> dict[str, Any]:
        return {
            "session_id": s.session_id,
            "member_id": s.member_id,
            "customer_id": s.customer_id,
            "refresh_digest": s.refresh_digest,
            "created_at": s.created_at,
            "expires_at": s.expires_at,
            "revoked_at": s.revoked_at,
            "version": s.version,
        }

    def from_row(self, row: Any) -> Session:
        return Session(
            session_id=row["session_id"],
            member_id=row["member_id"],
            customer_id=row["customer_id"],
            refresh_digest=row["refresh_digest"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            version=row["version"],
        )


_BY_BANKING_ID = select(members).where(members.c.banking_id == bindparam("banking_id"))


class SqlMemberLookup:
    """The MemberLookup port on a reader engine (engine.create_reader): SQLite's synchronous one, in the event
    loop's thread, or PostgreSQL's async one. No unit of work: no write turn, no BEGIN IMMEDIATE, no lock."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        self._engine = engine

    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        rows = await read(self._engine, _BY_BANKING_ID, {"banking_id": banking_id})
        return _member(rows[0]._mapping) if rows else None


class SqlAlchemyMemberUnitOfWork(SqlAlchemyUnitOfWork):
    members: SqlAlchemyMemberRepository
    sessions: SqlAlchemySessionRepository
    customers: SqlAlchemyCustomerStandings

    def _open(self, conn: AsyncConnection) -> list[TrackingRepository]:
        self.members = SqlAlchemyMemberRepository(conn)
        self.sessions = SqlAlchemySessionRepository(conn)
        self.customers = SqlAlchemyCustomerStandings(conn, customer_standings)
        return [self.members, self.sessions]
