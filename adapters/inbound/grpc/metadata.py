"""What servicers read of a call: the bearer token and the caller's address. A call is anything with gRPC's
`invocation_metadata()` and `peer()`: a grpc.aio.ServicerContext, or the REST adapter's HttpCall."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import ip_address, ip_network
from typing import Protocol

from domain.shared.errors import InvalidToken


class CallContext(Protocol):
    def invocation_metadata(self) -> Sequence[tuple[str, str | bytes]] | None: ...

    def peer(self) -> str: ...


MAX_TOKEN_LENGTH = 4096  # characters of a bearer token; ours are about 700, the gateway refuses longer ones too


def bearer_token(context: CallContext) -> str:
    """The token of the one `authorization: Bearer ...` entry; InvalidToken if there is none, if it is longer
    than MAX_TOKEN_LENGTH, or if there are two or more (ambiguous: which credential is the caller's? The gateway
    refuses them too)."""
    values = [value for key, value in context.invocation_metadata() or () if key == "authorization"]
    if len(values) != 1 or not isinstance(values[0], str) or values[0][:7].lower() != "bearer ":
        raise InvalidToken()
    token = values[0][7:].strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken()
    return token


def peer_address(context: CallContext) -> str:
    """The caller's IP address without the port ("ipv4:127.0.0.1:5000" -> "127.0.0.1")."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").removeprefix("%5B").removesuffix("%5D")
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else peer


class ClientAddress:
    """The caller's address for per-source limits. Behind a proxy every call comes from the proxy, so the
    address it saw is taken from the last `x-forwarded-for` entry (the one the proxy itself appended; Envoy
    runs with use_remote_address) - but only when the direct peer is one of `trusted_proxies`, so a client
    that reaches the service directly cannot choose its own address by sending the header."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._trusted = [ip_network(p.strip(), strict=False) for p in trusted_proxies if p.strip()]

    def __call__(self, context: CallContext) -> str:
        peer = peer_address(context)
        if not self._trusted or not self._is_trusted(peer):
            return peer
        forwarded = [value for key, value in context.invocation_metadata() or () if key == "x-forwarded-for"]
        hops = [h.strip() for h in ",".join(v for v in forwarded if isinstance(v, str)).split(",") if h.strip()]
        if hops and _is_ip(hops[-1]):
            return hops[-1]
        return peer

    def is_gateway(self, context: CallContext) -> bool:
        """Whether the direct peer is one of the trusted proxies (the gateway): what the header says never counts."""
        return bool(self._trusted) and self._is_trusted(peer_address(context))

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True
