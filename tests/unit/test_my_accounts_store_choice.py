"""The my_accounts service picks its view store by URL: SQLite by default (read through its own driver),
PostgreSQL (read through SQLAlchemy), Redis for a redis:// URL in MY_ACCOUNTS_VIEW_URL or
MY_ACCOUNTS_DATABASE_URL (the view URL wins). Nothing connects here."""

from __future__ import annotations

import pytest

from adapters.outbound.redis.my_accounts import RedisViewReader
from adapters.outbound.sqlalchemy.my_accounts import SqlViewReader
from adapters.outbound.sqlite.my_accounts import SqliteViewReader
from services.my_accounts.bootstrap import view_store
from services.my_accounts.settings import MyAccountsSettings
from tests.fakes import FakeClock


@pytest.mark.parametrize(
    ("variables", "kind", "reader"),
    [
        ({}, "sql", SqliteViewReader),
        ({"MY_ACCOUNTS_DATABASE_URL": "postgresql+asyncpg://bank@127.0.0.1:1/view"}, "sql", SqlViewReader),
        ({"MY_ACCOUNTS_DATABASE_URL": "redis://127.0.0.1:1/0"}, "redis", RedisViewReader),
        ({"MY_ACCOUNTS_VIEW_URL": "rediss://cache.example:6380/2"}, "redis", RedisViewReader),
        ({"MY_ACCOUNTS_VIEW_URL": "unix:///run/redis.sock"}, "redis", RedisViewReader),
        (
            {"MY_ACCOUNTS_DATABASE_URL": "redis://127.0.0.1:1/0", "MY_ACCOUNTS_VIEW_URL": "sqlite+aiosqlite:///v.db"},
            "sql",
            SqliteViewReader,
        ),
    ],
)
async def test_the_view_store_follows_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path, variables: dict[str, str], kind: str, reader: type
) -> None:
    for name in ("MY_ACCOUNTS_VIEW_URL", "MY_ACCOUNTS_DATABASE_URL", "DATABASE_URL", "MY_ACCOUNTS_REDIS_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = MyAccountsSettings.from_env()
    store = view_store(settings, FakeClock())
    try:
        assert (store.kind, type(store.reader)) == (kind, reader)
        if kind == "redis":
            assert settings.redis_prefix == "bank:my_accounts"
    finally:
        await store.close()
