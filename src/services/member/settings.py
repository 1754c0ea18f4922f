"""The member service's own settings, beside the common ones. Defaults are the production ones (OWASP
argon2id, 5-minute access tokens); tests and benchmarks override them through the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from domain.member.lockout import LockoutPolicy
from services.runtime.settings import DEFAULT_MEMBER_KEYS_PORT, CommonSettings, env

DEFAULT_PORT = 50052
DEFAULT_REST_PORT = 8052
DEFAULT_METRICS_PORT = 9052
LOOPBACK = "127.0.0.1/32,::1/128"


@dataclass(frozen=True)
class MemberSettings:
    common: CommonSettings
    keys_port: int  # the JWKS and discovery only, for token verifiers (the REST port serves the API, Login too)
    jwt_issuer: str
    jwt_audience: str
    jwt_keys_dir: str
    access_token_seconds: int
    hash_profile: str  # "owasp" (m=19 MiB, t=2, p=1) or "cheap" (tests only)
    hash_workers: int
    hash_queue: int
    my_accounts_addr: str
    snapshot_deadline_seconds: float
    breaker_threshold: int
    breaker_ttl_seconds: float
    # The gateway's addresses (CIDRs): the only callers Login answers, and the only ones whose x-forwarded-for
    # names the caller for the per-source login throttle. Default loopback (the local gateway, `bank up`).
    trusted_proxies: tuple[str, ...]
    throttle_source_capacity: int
    throttle_source_per_second: float
    throttle_id_capacity: int
    throttle_id_per_second: float
    lockout: LockoutPolicy

    @classmethod
    def from_env(cls) -> MemberSettings:
        common = CommonSettings.from_env("member", DEFAULT_PORT, DEFAULT_REST_PORT, DEFAULT_METRICS_PORT)
        var_dir = env("VAR_DIR", "var")
        workers = int(env("HASH_WORKERS", str(os.cpu_count() or 1)))
        return cls(
            common=common,
            keys_port=int(env("MEMBER_KEYS_PORT", str(DEFAULT_MEMBER_KEYS_PORT))),
            jwt_issuer=env("JWT_ISSUER", "bank-member"),
            jwt_audience=env("JWT_AUDIENCE", "bank-api"),
            jwt_keys_dir=env("JWT_KEYS_DIR", f"{var_dir}/keys/member"),
            access_token_seconds=int(env("ACCESS_TOKEN_SECONDS", "300")),
            hash_profile=env("HASH_PROFILE", "owasp"),
            hash_workers=workers,
            # One waiting login per worker: an admitted login waits at most about one hash, so under overload
            # its latency stays near twice the nominal (reliability notes, L2) and the rest is shed at once
            # with a retry hint, instead of queueing into seconds.
            hash_queue=int(env("HASH_QUEUE", str(workers))),
            my_accounts_addr=env("MY_ACCOUNTS_ADDR", "127.0.0.1:50064"),  # the internal snapshot port
            snapshot_deadline_seconds=float(env("SNAPSHOT_DEADLINE_MS", "500")) / 1000,
            breaker_threshold=int(env("BREAKER_THRESHOLD", "5")),
            breaker_ttl_seconds=float(env("BREAKER_TTL_SECONDS", "10")),
            trusted_proxies=tuple(p for p in env("TRUSTED_PROXIES", LOOPBACK).split(",") if p.strip()),
            throttle_source_capacity=int(env("THROTTLE_SOURCE_CAPACITY", "200")),
            throttle_source_per_second=float(env("THROTTLE_SOURCE_PER_SECOND", "100")),
            throttle_id_capacity=int(env("THROTTLE_ID_CAPACITY", "10")),
            throttle_id_per_second=float(env("THROTTLE_ID_PER_SECOND", "0.2")),
            lockout=LockoutPolicy(
                max_failures=int(env("LOCKOUT_MAX_FAILURES", "5")),
                first_lock=timedelta(seconds=float(env("LOCKOUT_FIRST_LOCK_SECONDS", "300"))),
                max_lock=timedelta(seconds=float(env("LOCKOUT_MAX_LOCK_SECONDS", "3600"))),
                reset_window=timedelta(seconds=float(env("LOCKOUT_RESET_WINDOW_SECONDS", "900"))),
                permanent_after_locks=int(env("LOCKOUT_PERMANENT_AFTER_LOCKS", "5")),
            ),
        )
