"""The interceptor every server installs: correlation id in, one error table out.

- A request that cannot be decoded answers INVALID_ARGUMENT (grpcio's default is INTERNAL
  "Exception deserializing request!").
- A DomainError answers its table status; any other exception answers INTERNAL with a reference id only.
- The correlation id comes from `x-correlation-id` metadata (or is created) and is in every log line.
- Every answered call is observed in `bank_rpc_duration_seconds{protocol="grpc"}` with its status code, and
  is a server span, child of the caller's `traceparent` metadata if any."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from adapters.common import metrics, tracing
from adapters.common.context import accept_correlation_id, correlation_id
from adapters.inbound.grpc.errors import status_for_exception, status_for_undecodable

log = logging.getLogger("rpc")


class _Undecodable:
    """Stands in for a request that failed to decode, so the handler can answer INVALID_ARGUMENT."""


def _safe_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def wrapper(data: bytes) -> Any:
        try:
            return deserialize(data)
        except (DecodeError, UnicodeDecodeError, ValueError, RuntimeError):
            return _Undecodable()

    return wrapper


class ErrorAndContextInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods (UNIMPLEMENTED) and streaming services (reflection) as they are
        method = details.method
        inner = handler.unary_unary
        metadata = dict(details.invocation_metadata or ())
        incoming_cid = metadata.get("x-correlation-id")

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with tracing.server_span("grpc", method, metadata) as span:
                return await traced(request, context, span)

        async def traced(request: Any, context: grpc.aio.ServicerContext, span: Any) -> Any:
            correlation_id.set(accept_correlation_id(incoming_cid if isinstance(incoming_cid, str) else None))
            started = time.perf_counter()
            status: grpc.Status | None = None
            code = "OK"
            try:
                if isinstance(request, _Undecodable):
                    status = status_for_undecodable()
                else:
                    return await inner(request, context)
            except grpc.aio.AbortError:
                code = _aborted_code(context)  # the servicer aborted the call itself
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"  # the client went away or the deadline passed
                raise
            except Exception as error:  # noqa: BLE001 - refusals get their status; anything else is INTERNAL
                status = status_for_exception(error, method)
            finally:
                elapsed = time.perf_counter() - started
                if status is not None:
                    code = status.code.name
                    log.info("%s -> %s in %.1f ms", method, code, elapsed * 1000)
                metrics.observe_rpc("grpc", method, code, elapsed)
                tracing.finish_rpc(span, code)
            await context.abort(status.code, status.details, status.trailing_metadata)

        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=_safe_deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )


def _aborted_code(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return grpc.StatusCode.UNKNOWN.name
