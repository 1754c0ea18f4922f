"""What servicers read of a call: the bearer token and the caller's address. A call is anything with gRPC's
`invocation_metadata()` and `peer()`: a grpc.aio.ServicerContext, or the REST adapter's HttpCall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.shared.errors import InvalidToken


class CallContext(Protocol):
    def invocation_metadata(self) -> Sequence[tuple[str, str | bytes]] | None: ...

    def peer(self) -> str: ...


def bearer_token(context: CallContext) -> str:
    """The token of the `authorization: Bearer ...` header; InvalidToken if there is none."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip()
    raise InvalidToken()


def peer_address(context: CallContext) -> str:
    """The caller's IP address without the port ("ipv4:127.0.0.1:5000" -> "127.0.0.1")."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").removeprefix("%5B").removesuffix("%5D")
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else peer
