"""Fresh databases for tests, on SQLite or PostgreSQL, migrated the way services migrate them at start-up.

PostgreSQL: the server of scripts/postgres-local.sh (or TEST_POSTGRES_URL). A unit of work suite gets a
schema of its own per test (cheap: created, put first on the search_path of the test's engine, dropped
after); a service process gets a database of its own (its URL is all it reads)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.engine import create_engine

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SCRIPT = ROOT / "scripts" / "postgres-local.sh"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://bank@127.0.0.1:55432/bank_test"
BACKENDS = ["sqlite", "postgres"]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """TEST_POSTGRES_URL, or the local server (started if not running; stopped at the end only if started here)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield url
        return
    running = subprocess.run(["bash", str(POSTGRES_SCRIPT), "status"], capture_output=True).returncode == 0
    if not running:
        subprocess.run(["bash", str(POSTGRES_SCRIPT), "start"], check=True)
    try:
        yield DEFAULT_POSTGRES_URL
    finally:
        if not running:
            subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop"], check=True)


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_engine(
    backend: str, metadata: MetaData, tmp_path: Path, postgres_url: str | None
) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database (SQLite file, or PostgreSQL schema) migrated to head."""
    service = metadata.info["service"]
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/{service}.db")
        schema = None
    else:
        assert postgres_url is not None
        schema = f"t_{uuid.uuid4().hex[:12]}"
        await _admin(postgres_url, f"CREATE SCHEMA {schema}")
        engine = create_engine(postgres_url, pool_size=2, connect_args={"server_settings": {"search_path": schema}})
    try:
        await migrate.upgrade(engine, service, metadata)
        yield engine
    finally:
        await engine.dispose()
        if schema is not None:
            await _admin(postgres_url, f"DROP SCHEMA {schema} CASCADE")


def _run(coroutine: Any) -> None:
    """asyncio.run in a thread of its own: a fixture of an async test is called inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@contextlib.contextmanager
def fresh_postgres_database(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (dropped at the end, connections and all)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
