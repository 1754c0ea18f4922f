"""Schema migrations (Alembic), one history per service under migrations/<service>/ beside this module.

`upgrade(engine, service)` brings a database to the newest revision: what each service does at start-up
instead of `metadata.create_all`. It is idempotent (at head it does nothing) and safe when several replicas
start at once: the whole upgrade runs in one transaction that first takes a lock, and the replicas that
waited find the database at head.
- PostgreSQL: pg_advisory_xact_lock on a key per service (DDL is transactional there: a failed upgrade
  leaves nothing behind).
- SQLite: the writer engine begins with BEGIN IMMEDIATE (engine.py), the database file's write lock.
A database made by `create_all` before migrations existed (tables, no alembic_version) is stamped at the
first revision, whose schema it has, and then upgraded.

Alembic runs on the service's own async engine through `run_sync` (its synchronous API on the async
driver's connection, in SQLAlchemy's greenlet): no second, synchronous driver is needed, and a test's engine
options (a PostgreSQL schema on the search_path) apply to the migrations too."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import MetaData, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parent / "migrations"
FIRST_REVISION = "0001"


def config(service: str, connection: Connection | None = None) -> Config:
    """The Alembic configuration of `service` (no alembic.ini: everything is set here)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / service))
    cfg.attributes["connection"] = connection
    return cfg


def lock_key(service: str) -> int:
    return zlib.crc32(f"bank-migrations:{service}".encode())


def _upgrade(connection: Connection, service: str, metadata: MetaData) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(lock_key(service))))
    cfg = config(service, connection)
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and tables & set(metadata.tables):
        command.stamp(cfg, FIRST_REVISION)  # made by create_all before migrations existed
    command.upgrade(cfg, "head")


async def upgrade(engine: AsyncEngine, service: str, metadata: MetaData) -> None:
    """`alembic upgrade head` for `service`, in one locked transaction (see the module docstring)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, service, metadata)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations render a custom column type as what it stores (UtcTimestamp -> BigInteger), so that a
    revision keeps meaning the same schema whatever later becomes of the application's types."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        autogen_context.imports.add("import sqlalchemy as sa")
        return f"sa.{obj.impl!r}"
    return False


def run_env(context: EnvironmentContext, metadata: MetaData) -> None:
    """The body of every service's env.py: online only, on the connection passed in by `upgrade` (or by a
    test). render_as_batch for SQLite, whose ALTER TABLE cannot change a column in place."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through adapters.outbound.sqlalchemy.migrate (they need a connection)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
