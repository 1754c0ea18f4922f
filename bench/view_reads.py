"""What the my_accounts service asks its SQLite view for one ListMyAccounts (revoked?, the customer's
standing, the accounts, the projection's freshness), in-process with nothing else: CPU and wall time per
set of reads. The database part of (b), to tune the reader engine without the noise of a whole system.

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
        reader = SqlViewReader(reader_engine)
        session, member = str(uuid.uuid4()), str(uuid.uuid4())

        async def one() -> None:
            await reader.is_revoked(session, member, now)
            await reader.standing(customer)
            assert len(await reader.accounts_of(customer)) == 3
            await reader.caught_up_at()

        for _ in range(200):
            await one()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await one()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{rounds} ListMyAccounts read sets: "
            f"{1e6 * cpu / rounds:.0f} us CPU, {1e6 * wall / rounds:.0f} us wall each"
        )
        if (disposed := reader_engine.dispose()) is not None:
            await disposed
        await writer.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
