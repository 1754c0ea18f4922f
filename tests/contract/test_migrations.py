"""Each service's Alembic history, on SQLite and PostgreSQL: upgraded to head, the schema is exactly what its
tables' metadata says (autogenerate finds nothing to do); upgrading again changes nothing; replicas that
migrate at the same moment all succeed with one history; a database made by create_all before migrations
existed is adopted (stamped at the first revision) and upgraded from there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.outbound.sqlalchemy import account, customer, member, migrate, my_accounts
from tests.databases import BACKENDS, fresh_engine

SERVICES = {m.metadata.info["service"]: m.metadata for m in (customer, member, account, my_accounts)}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    return request.param, request.getfixturevalue("postgres_url") if request.param == "postgres" else None


def _diff(metadata: MetaData):
    def run(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    return run


def head(service: str) -> str:
    return ScriptDirectory.from_config(migrate.config(service)).get_current_head()


async def _versions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_migrations_make_the_schema_of_the_metadata(service: str, backend, tmp_path: Path) -> None:
    name, url = backend
    metadata = SERVICES[service]
    async with fresh_engine(name, metadata, tmp_path, url) as engine:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff(metadata)) == []
        await migrate.upgrade(engine, service, metadata)  # again: nothing to do, nothing fails
        assert await _versions(engine) == [head(service)]


async def test_replicas_migrating_at_once_all_succeed(backend, tmp_path: Path) -> None:
    name, url = backend
    async with fresh_engine(name, customer.metadata, tmp_path, url) as engine:
        # fresh_engine migrated once; drop everything and let four "replicas" race on the empty database
        async with engine.begin() as conn:
            await conn.run_sync(customer.metadata.drop_all)
            await conn.execute(text("DROP TABLE alembic_version"))
        await asyncio.gather(*(migrate.upgrade(engine, "customer", customer.metadata) for _ in range(4)))
        assert await _versions(engine) == [head("customer")]
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff(customer.metadata)) == []
            assert (await conn.execute(select(customer.outbox.c.position))).all() == []


async def test_a_database_made_by_create_all_is_adopted_and_upgraded(backend, tmp_path: Path) -> None:
    name, url = backend
    async with fresh_engine(name, member.metadata, tmp_path, url) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
        # as create_all left it before migrations: the first revision's schema (members.customer_id not unique)
        await migrate.upgrade(engine, "member", member.metadata)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(migrate.config("member", c), migrate.FIRST_REVISION))
            await conn.execute(text("DROP TABLE alembic_version"))
        await migrate.upgrade(engine, "member", member.metadata)
        assert await _versions(engine) == [head("member")]
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff(member.metadata)) == []
