"""Which verified service may call which gRPC service, on a port that requires mutual TLS.

The TLS handshake has already refused callers without a certificate signed by the internal CA; this
interceptor checks the caller's identity (its certificate's DNS subject alternative names) against the
services it may call and answers PERMISSION_DENIED otherwise, with one generic message. Services not listed
(health, reflection) are open to every verified caller."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc

log = logging.getLogger(__name__)

DENIED = "this caller may not call this service"


def peer_identities(auth_context: Mapping[str, Any]) -> set[str]:
    """The verified identities of a TLS peer: its DNS SANs (the common name only if it has none)."""
    names = {n.decode() for n in auth_context.get("x509_subject_alternative_name", [])}
    return names or {n.decode() for n in auth_context.get("x509_common_name", [])}


class PeerIdentityInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, allowed: Mapping[str, frozenset[str]]) -> None:
        """`allowed`: full service name (`bank.my_accounts.v1.AccountsSnapshotService`) -> identities."""
        self._allowed = allowed

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        service = handler_call_details.method.lstrip("/").rsplit("/", 1)[0]
        allowed = self._allowed.get(service)
        if handler is None or allowed is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            callers = peer_identities(context.auth_context())
            if not callers & allowed:
                log.warning("refused %s to a caller identified as %s", service, sorted(callers) or "nobody")
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, DENIED)
            result = inner(request, context)
            return await result if inspect.isawaitable(result) else result

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
