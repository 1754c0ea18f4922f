"""What servicers read from call metadata: the bearer token and the caller's address."""

from __future__ import annotations

import grpc

from domain.shared.errors import InvalidToken


def bearer_token(context: grpc.aio.ServicerContext) -> str:
    """The token of the `authorization: Bearer ...` header; InvalidToken if there is none."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip()
    raise InvalidToken()


def peer_address(context: grpc.aio.ServicerContext) -> str:
    """The caller's IP address without the port ("ipv4:127.0.0.1:5000" -> "127.0.0.1")."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").removeprefix("%5B").removesuffix("%5D")
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else peer
