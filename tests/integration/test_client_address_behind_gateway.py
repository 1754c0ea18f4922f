"""Behind the gateway, the member service's per-source login throttle counts each client, not the gateway:
Envoy appends the caller's address to x-forwarded-for and the member service trusts it from Envoy only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.full_system import FullSystem

pytestmark = pytest.mark.kafka


def test_each_client_has_its_own_login_bucket(service_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    system = FullSystem(
        service_factory,
        tmp_path / "gateway",
        TRUSTED_PROXIES="127.0.0.1/32",
        THROTTLE_SOURCE_CAPACITY="3",
        THROTTLE_SOURCE_PER_SECOND="0.01",
    )
    login = {"bankingId": "nobody-here", "password": "wrong wrong wrong"}
    try:
        # Two clients on two loopback addresses: 127.0.0.1 spends its bucket...
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=10) as first:
            codes = [first.post(f"{system.envoy.url}/v1/login", json=login).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429], codes
        # ...while 127.0.0.2 (also through the gateway, so the same direct peer) still has its own.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10) as second:
            assert second.post(f"{system.envoy.url}/v1/login", json=login).status_code == 401
        # A client that reaches the service directly cannot pick its address with the header.
        member = system.services["member"].rest_url
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as direct:
            spoofed = [
                direct.post(f"{member}/v1/login", json=login, headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
                for i in range(4)
            ]
        assert spoofed == [401, 401, 401, 429], spoofed
    finally:
        system.stop()
