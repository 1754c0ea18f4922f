"""The caller's address for the per-source login throttle: x-forwarded-for counts only from a trusted proxy,
and then only its last entry (the one the proxy appended itself)."""

from __future__ import annotations

import pytest

from adapters.inbound.grpc.metadata import ClientAddress


class Call:
    def __init__(self, peer: str, *metadata: tuple[str, str]) -> None:
        self._peer = peer
        self._metadata = metadata

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


XFF = ("x-forwarded-for", "6.6.6.6, 203.0.113.7")


@pytest.mark.parametrize(
    ("trusted", "call", "expected"),
    [
        ((), Call("ipv4:127.0.0.1:5000", XFF), "127.0.0.1"),  # no proxy configured: the header means nothing
        (("127.0.0.1/32",), Call("ipv4:127.0.0.1:5000", XFF), "203.0.113.7"),  # the proxy's own entry
        (("127.0.0.1/32",), Call("ipv4:198.51.100.9:5000", XFF), "198.51.100.9"),  # a client sending it itself
        (("10.0.0.0/8",), Call("ipv4:10.1.2.3:5000", XFF), "203.0.113.7"),
        (("127.0.0.1/32",), Call("ipv4:127.0.0.1:5000"), "127.0.0.1"),  # no header
        (("127.0.0.1/32",), Call("ipv4:127.0.0.1:5000", ("x-forwarded-for", "not-an-ip")), "127.0.0.1"),
        (("::1/128",), Call("ipv6:[::1]:5000", ("x-forwarded-for", "2001:db8::5")), "2001:db8::5"),
        (
            ("127.0.0.1/32",),
            Call("ipv4:127.0.0.1:1", ("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")),
            "2.2.2.2",
        ),
    ],
)
def test_client_address(trusted: tuple[str, ...], call: Call, expected: str) -> None:
    assert ClientAddress(trusted)(call) == expected


@pytest.mark.parametrize(
    ("trusted", "call", "gateway"),
    [
        ((), Call("ipv4:127.0.0.1:5000"), False),  # nobody configured: nobody is the gateway
        (("127.0.0.1/32", "::1/128"), Call("ipv4:127.0.0.1:5000"), True),
        (("127.0.0.1/32", "::1/128"), Call("ipv6:[::1]:5000"), True),
        (("127.0.0.1/32",), Call("ipv4:127.0.0.3:5000"), False),
        (("127.0.0.1/32",), Call("ipv4:127.0.0.3:5000", ("x-forwarded-for", "127.0.0.1")), False),  # header: no
        (("10.244.0.0/16",), Call("ipv4:10.244.3.7:5000"), True),
        (("10.244.0.0/16",), Call("ipv4:10.0.0.7:5000"), False),
        (("127.0.0.1/32",), Call("unix:/tmp/socket"), False),
    ],
)
def test_only_the_gateway_is_the_gateway(trusted: tuple[str, ...], call: Call, gateway: bool) -> None:
    """Login answers only callers whose direct peer is one of the gateway's addresses (TRUSTED_PROXIES)."""
    assert ClientAddress(trusted).is_gateway(call) is gateway
