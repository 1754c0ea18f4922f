"""The account service's own settings, beside the common ones: where the member service publishes its token
keys, what the tokens must say, and the per-transaction limit."""

from __future__ import annotations

from dataclasses import dataclass

from domain.account.model import DEFAULT_MAX_AMOUNT
from services.runtime.settings import CommonSettings, env, member_jwks_url

DEFAULT_PORT = 50053
DEFAULT_REST_PORT = 8053
DEFAULT_METRICS_PORT = 9053


@dataclass(frozen=True)
class AccountSettings:
    common: CommonSettings
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    jwks_refresh_seconds: float
    max_amount: int  # per transaction, in KRW

    @classmethod
    def from_env(cls) -> AccountSettings:
        return cls(
            common=CommonSettings.from_env("account", DEFAULT_PORT, DEFAULT_REST_PORT, DEFAULT_METRICS_PORT),
            jwks_url=member_jwks_url(),
            jwt_issuer=env("JWT_ISSUER", "bank-member"),
            jwt_audience=env("JWT_AUDIENCE", "bank-api"),
            jwks_refresh_seconds=float(env("JWKS_REFRESH_SECONDS", "60")),
            max_amount=int(env("ACCOUNT_MAX_AMOUNT", str(DEFAULT_MAX_AMOUNT))),
        )
