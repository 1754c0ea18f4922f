"""What the my_accounts service asks its SQLite view for one ListMyAccounts (revoked?, the customer's
standing, the accounts, the projection's freshness), in-process with nothing else: CPU and wall time per
set of reads, through SQLAlchemy and through sqlite3 itself, alternated. The database part of (b), to tune
the reader without the noise of a whole system.

    python -m bench.view_reads [ROUNDS]       # default 2000, after 200 of warm-up
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.engine import create_engine, create_reader
from adapters.outbound.sqlalchemy.my_accounts import SqlViewReader, metadata, view_accounts
from adapters.outbound.sqlite.my_accounts import SqliteViewReader
from domain.my_accounts.ports import ViewReader


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/my_accounts.db"
        writer = create_engine(url)
        await migrate.upgrade(writer, "my_accounts", metadata)
        customer, now = str(uuid.uuid4()), datetime.now(UTC)
        async with writer.begin() as conn:
            for n in range(3):
                await conn.execute(
                    view_accounts.insert().values(
                        account_number=f"1100000000000{n}",
                        customer_id=customer,
                        product_code="SAVINGS",
                        balance=1000 * n,
                        sequence=1,
                        status="OPEN",
                        as_of=now,
                    )
                )
        reader_engine = create_reader(url)
        readers: dict[str, SqlViewReader | SqliteViewReader] = {
            "SQLAlchemy (statements built once, synchronous engine)": SqlViewReader(reader_engine),
            "sqlite3 (SqliteViewReader, the service's)": SqliteViewReader(f"{folder}/my_accounts.db"),
        }
        session, member = str(uuid.uuid4()), str(uuid.uuid4())

        async def one(reader: ViewReader) -> None:
            await reader.is_revoked(session, member, now)
            await reader.standing(customer)
            assert len(await reader.accounts_of(customer)) == 3
            await reader.caught_up_at()

        for _ in range(3):  # alternated: A B A B A B
            for name, reader in readers.items():
                for _ in range(200):
                    await one(reader)
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(rounds):
                    await one(reader)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                print(f"{name}: {rounds} read sets, {1e6 * cpu / rounds:.0f} us CPU, {1e6 * wall / rounds:.0f} us wall")
        for reader in readers.values():
            await reader.close()
        await writer.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
