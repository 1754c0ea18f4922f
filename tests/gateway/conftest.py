"""Fixtures of the gateway suites: one stub upstream, one JWKS REST stub and one real Envoy for the session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway.harness import Envoy, JwksRestStub, Signer, StubUpstream, member_signer, operator_signer

# Small login bucket so the rate-limit tests need only a few calls: 10 tokens, refilled at 10 per second.
LOGIN_RPS, LOGIN_BURST = 10, 10


@dataclass
class Gateway:
    envoy: Envoy
    upstream: StubUpstream
    member: Signer
    operator: Signer


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder: Path = tmp_path_factory.mktemp("gateway")
    member, operator = member_signer(), operator_signer()
    (folder / "member-jwks.json").write_text(json.dumps(member.jwks()))
    (folder / "operator-jwks.json").write_text(json.dumps(operator.jwks()))
    upstream = StubUpstream()
    upstream.start()
    rest = JwksRestStub(member.jwks())
    rest.start()
    env = {
        **{f"GATEWAY_{name}_ADDR": upstream.address for name in ("CUSTOMER", "MEMBER", "ACCOUNT", "MY_ACCOUNTS")},
        "GATEWAY_MEMBER_KEYS_ADDR": f"127.0.0.1:{rest.port}",
        "MEMBER_JWKS_FILE": str(folder / "member-jwks.json"),
        "OPERATOR_JWKS_FILE": str(folder / "operator-jwks.json"),
        "GATEWAY_LOGIN_RPS": str(LOGIN_RPS),
        "GATEWAY_LOGIN_BURST": str(LOGIN_BURST),
        # the tests of this session's gateway all come from 127.0.0.1: one client's buckets as large as the ceilings
        # (test_edge_limits.py starts gateways of its own for the per-client buckets)
        "GATEWAY_LOGIN_CLIENT_RPS": str(LOGIN_RPS),
        "GATEWAY_LOGIN_CLIENT_BURST": str(LOGIN_BURST),
        "GATEWAY_CLIENT_RPS": "500",
        "GATEWAY_CLIENT_BURST": "1000",
    }
    envoy = Envoy(folder, env)
    try:
        envoy.start()
        yield Gateway(envoy, upstream, member, operator)
    finally:
        envoy.stop()
        rest.stop()
        upstream.stop()
