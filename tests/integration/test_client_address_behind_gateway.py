"""Behind the gateway, the member service's per-source login throttle counts each client, not the gateway:
Envoy appends the caller's address to x-forwarded-for and the member service trusts it from Envoy only. Login
answers the gateway alone (TRUSTED_PROXIES, the gateway's addresses); the token verifiers (Envoy, account,
my_accounts) fetch the keys from the member service's keys listener, which serves the JWKS and discovery and
nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.full_system import FullSystem

pytestmark = pytest.mark.kafka

LOGIN = {"bankingId": "nobody-here", "password": "wrong wrong wrong"}


def test_each_client_has_its_own_login_bucket(service_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    system = FullSystem(
        service_factory,
        tmp_path / "gateway",
        TRUSTED_PROXIES="127.0.0.1/32",
        THROTTLE_SOURCE_CAPACITY="3",
        THROTTLE_SOURCE_PER_SECOND="0.01",
    )
    try:
        # Two clients on two loopback addresses: 127.0.0.1 spends its bucket...
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=10) as first:
            codes = [first.post(f"{system.envoy.url}/v1/login", json=LOGIN).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429], codes
        # ...while 127.0.0.2 (also through the gateway, so the same direct peer) still has its own.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10) as second:
            assert second.post(f"{system.envoy.url}/v1/login", json=LOGIN).status_code == 401
    finally:
        system.stop()


def test_login_answers_the_gateway_only_and_the_keys_are_served_apart(service_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    system = FullSystem(service_factory, tmp_path / "gateway", TRUSTED_PROXIES="127.0.0.1/32")
    member = system.services["member"]
    try:
        # A caller that reaches the member service's REST port directly, from anywhere but the gateway's address,
        # is refused before its password is looked at, whatever x-forwarded-for it sends: one answer for all.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as direct:
            answers = [
                direct.post(f"{member.rest_url}/v1/login", json=LOGIN, headers=headers)
                for headers in ({}, {"x-forwarded-for": "127.0.0.1"}, {"x-forwarded-for": "10.0.0.1"})
            ]
        assert {(a.status_code, a.json()["message"]) for a in answers} == {(403, "log in through the gateway")}
        # through the gateway the same login is judged (401: no such member)
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as client:
            assert client.post(f"{system.envoy.url}/v1/login", json=LOGIN).status_code == 401
        # The keys listener: the JWKS and discovery, for anyone; no Login, no other RPC.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as verifier:
            jwks = verifier.get(f"{member.keys_url}/.well-known/jwks.json")
            assert jwks.status_code == 200 and jwks.json()["keys"]
            assert all("d" not in key for key in jwks.json()["keys"])
            discovery = verifier.get(f"{member.keys_url}/.well-known/openid-configuration").json()
            assert discovery["jwks_uri"].endswith(f":{member.env['MEMBER_KEYS_PORT']}/.well-known/jwks.json")
            assert verifier.post(f"{member.keys_url}/v1/login", json=LOGIN).status_code == 404
            assert verifier.post(f"{member.keys_url}/v1/tokens:refresh", json={"refreshToken": "x"}).status_code == 404
            # and the REST port no longer hands out the keys (nobody configures a verifier against the Login port)
            assert verifier.get(f"{member.rest_url}/.well-known/jwks.json").status_code == 404
        # the gateway serves the same keys (fetched from the keys listener) and verifies tokens with them
        assert httpx.get(f"{system.envoy.url}/.well-known/jwks.json", timeout=10).json() == jwks.json()
        stats = system.envoy.admin("/stats?filter=jwks_fetch").text
        assert "jwks_fetch_success: 0" not in stats and "jwks_fetch_success" in stats, stats
        # account and my_accounts serve only once they hold the keys: FullSystem waited for both to be SERVING
    finally:
        system.stop()
