"""The my_accounts service's own settings, beside the common ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.runtime.settings import CommonSettings, env

DEFAULT_PORT = 50054
DEFAULT_REST_PORT = 8054
DEFAULT_METRICS_PORT = 9054


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

    @classmethod
    def from_env(cls) -> MyAccountsSettings:
        return cls(
            common=CommonSettings.from_env("my_accounts", DEFAULT_PORT, DEFAULT_REST_PORT, DEFAULT_METRICS_PORT),
            internal_port=int(env("MY_ACCOUNTS_INTERNAL_PORT", "50064")),
            jwks_url=env("MEMBER_JWKS_URL", "http://127.0.0.1:8052/.well-known/jwks.json"),
            jwt_issuer=env("JWT_ISSUER", "bank-member"),
            jwt_audience=env("JWT_AUDIENCE", "bank-api"),
            stale_after=timedelta(seconds=float(env("STALE_AFTER_SECONDS", "5"))),
            projector=env("PROJECTOR", "inprocess"),
            projector_metrics_port=int(env("MY_ACCOUNTS_PROJECTOR_METRICS_PORT", "0")),
        )
