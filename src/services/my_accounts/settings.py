"""The my_accounts service's own settings, beside the common ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.runtime.settings import CommonSettings, env, member_jwks_url

DEFAULT_PORT = 50054
DEFAULT_REST_PORT = 8054
DEFAULT_METRICS_PORT = 9054
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
DEFAULT_REDIS_PREFIX = "bank:my_accounts"


@dataclass(frozen=True)
class MyAccountsSettings:
    common: CommonSettings
    internal_port: int  # AccountsSnapshotService: for the member service only, never behind the gateway
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    stale_after: timedelta
    projector: str  # "inprocess", or "off" to run `python -m services.my_accounts projector` alone
    projector_metrics_port: int  # the projector run alone: its own /metrics (0: none, the default)
    # Where the view lives: a SQLAlchemy URL (the default: the service's database) or redis://, rediss://,
    # unix:// for Redis (adapters/outbound/redis/my_accounts.py), whose keys all start with `redis_prefix`.
    view_url: str
    redis_prefix: str
    redis_inbox_ttl: timedelta | None  # how long Redis remembers an applied event id (None: for ever)

    @property
    def view_on_redis(self) -> bool:
        return self.view_url.startswith(REDIS_SCHEMES)

    @classmethod
    def from_env(cls) -> MyAccountsSettings:
        common = CommonSettings.from_env("my_accounts", DEFAULT_PORT, DEFAULT_REST_PORT, DEFAULT_METRICS_PORT)
        inbox_ttl = float(env("MY_ACCOUNTS_REDIS_INBOX_TTL_SECONDS", "0"))
        return cls(
            common=common,
            internal_port=int(env("MY_ACCOUNTS_INTERNAL_PORT", "50064")),
            jwks_url=member_jwks_url(),
            jwt_issuer=env("JWT_ISSUER", "bank-member"),
            jwt_audience=env("JWT_AUDIENCE", "bank-api"),
            stale_after=timedelta(seconds=float(env("STALE_AFTER_SECONDS", "5"))),
            projector=env("PROJECTOR", "inprocess"),
            projector_metrics_port=int(env("MY_ACCOUNTS_PROJECTOR_METRICS_PORT", "0")),
            # MY_ACCOUNTS_DATABASE_URL=redis://... selects Redis too; MY_ACCOUNTS_VIEW_URL wins over it.
            view_url=env("MY_ACCOUNTS_VIEW_URL", common.database_url),
            redis_prefix=env("MY_ACCOUNTS_REDIS_PREFIX", DEFAULT_REDIS_PREFIX),
            redis_inbox_ttl=timedelta(seconds=inbox_ttl) if inbox_ttl > 0 else None,
        )
