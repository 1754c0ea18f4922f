"""The my_accounts view's queries (the ViewReader port) on SQLite's own driver, in the event loop's thread.

Why: each read is an indexed lookup in a local file, some ten microseconds. Through SQLAlchemy, even with
statements built once and a synchronous engine, the four reads of a ListMyAccounts took 0.58 ms of CPU
(connection checkout, execution context, result and type processing, four times); here they take about
0.05 ms (`taskset -c 1 python -m bench.view_reads 3000` measures both). That was a quarter of the RPC's CPU.

The tables are those of adapters/outbound/sqlalchemy/my_accounts.py (its migrations make them), and a
timestamp is stored as microseconds since the epoch (types.UtcTimestamp). The SQLAlchemy reader
(SqlViewReader) serves the other databases; both pass the same contract suite.

One connection, autocommit (each statement is its own read transaction, which in WAL never waits for the
projector's writes), query_only. Its busy timeout is short: a reader waits only in rare moments (WAL recovery
after a writer's crash), and then the read answers unavailable rather than holding the loop. After any
error the connection is closed and opened again on the next read."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.outbound.sqlalchemy.types import from_micros, to_micros
from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus
from domain.shared.errors import DependencyUnavailable
from domain.shared.standing import CustomerStanding, CustomerStatus

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 0.2
_ACCOUNTS_OF = (
    "SELECT account_number, customer_id, product_code, balance, sequence, status, as_of FROM view_accounts"
    " WHERE customer_id = ? AND status = 'OPEN' ORDER BY account_number"
)
_PAGE = (
    "SELECT account_number, customer_id, product_code, balance, sequence, status, as_of FROM view_accounts"
    " WHERE account_number > ? ORDER BY account_number LIMIT ?"
)
_STANDING = "SELECT customer_id, status, version FROM customer_standings WHERE customer_id = ?"
_IS_REVOKED = (
    "SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = ?)"
    " OR EXISTS (SELECT 1 FROM member_revocations WHERE member_id = ? AND revoked_before >= ?)"
)
_CAUGHT_UP_AT = "SELECT caught_up_at FROM projection_status WHERE name = 'my_accounts'"


class SqliteViewReader:
    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._conn: sqlite3.Connection | None = None

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            # The driver's message can name paths and SQL: its class only, in the log; the caller gets UNAVAILABLE.
            log.warning("reading the view failed: %s", type(error).__name__)
            self._disconnect()
            raise DependencyUnavailable("the view's database is unavailable") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only=ON")  # a reader, whatever a bug might ask of it
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        self._disconnect()

    async def accounts_of(self, customer_id: str) -> list[ViewedAccount]:
        return [_account(row) for row in self._rows(_ACCOUNTS_OF, (customer_id,))]

    async def page(self, after: str, limit: int) -> list[ViewedAccount]:
        return [_account(row) for row in self._rows(_PAGE, (after, limit))]

    async def standing(self, customer_id: str) -> CustomerStanding | None:
        rows = self._rows(_STANDING, (customer_id,))
        return CustomerStanding(rows[0][0], CustomerStatus(rows[0][1]), rows[0][2]) if rows else None

    async def is_revoked(self, session_id: str, member_id: str, issued_at: datetime) -> bool:
        return bool(self._rows(_IS_REVOKED, (session_id, member_id, to_micros(issued_at)))[0][0])

    async def caught_up_at(self) -> datetime | None:
        rows = self._rows(_CAUGHT_UP_AT)
        return from_micros(rows[0][0]) if rows else None


def _account(row: tuple[Any, ...]) -> ViewedAccount:
    number, customer_id, product_code, balance, sequence, status, as_of = row
    return ViewedAccount(
        number, customer_id, product_code, balance, sequence, ViewedAccountStatus(status), from_micros(as_of)
    )
