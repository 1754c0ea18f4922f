"""REST/JSON for the same servicers the gRPC server runs: each RPC's `google.api.http` annotation becomes a
Starlette route, the JSON body, path variables and query parameters become the request message (proto3 JSON
mapping), and the servicer's answer or refusal becomes JSON, exactly as Envoy's grpc_json_transcoder writes
them (a `google.rpc.Status` body with its details, the HTTP status Envoy maps the gRPC code to). The domain
and the servicers do not change: a protocol is an adapter.

The rules follow the gateway's (scripts/gen_envoy.py): unknown query parameters, a query parameter or body
field naming a path variable, and unknown JSON fields are refused with INVALID_ARGUMENT; bodies are at most
64 KiB. Templates are the simple ones the contracts use (`/v1/accounts/{account_number}:deposit`); a richer
template (`{name=things/*}`) stops the service at start-up instead of routing wrongly."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.descriptor_pool import Default as default_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.common import metrics, tracing
from adapters.common.context import accept_correlation_id, correlation_id
from adapters.inbound.grpc.errors import status_for_exception, status_for_undecodable
from adapters.inbound.grpc.server import Servicer
from domain.shared.errors import InvalidArgument

log = logging.getLogger("rest")

MAX_BODY_BYTES = 64 * 1024  # the gateway's max_request_body_size
JSON = "application/json"

# gRPC code -> HTTP status, as Envoy maps them (source/common/grpc/status.cc, grpcToHttpStatus).
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class HttpCall:
    """What a servicer reads of a call (see adapters/inbound/grpc/metadata.py), taken from an HTTP request:
    the headers as call metadata (names are lower-case in both) and the client's address as a gRPC peer."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._request.headers.items())

    def peer(self) -> str:
        client = self._request.client
        if client is None:
            return ""
        return f"ipv6:[{client.host}]:{client.port}" if ":" in client.host else f"ipv4:{client.host}:{client.port}"


@dataclass(frozen=True)
class Binding:
    """One RPC's HTTP rule: verb, path template, the path variables and whether the body is the message."""

    method: MethodDescriptor
    verb: str
    template: str
    variables: tuple[str, ...]
    body_is_message: bool


def bindings(service_name: str) -> list[Binding]:
    """The HTTP rules of a service's RPCs, from the descriptors the stubs registered."""
    service = default_pool().FindServiceByName(service_name)
    found = []
    for method in service.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        pattern = rule.WhichOneof("pattern")
        if pattern is None:
            continue  # no REST binding: gRPC only
        if pattern == "custom" or rule.additional_bindings or rule.body not in ("", "*"):
            raise ValueError(f"{method.full_name}: HTTP rule not supported by the REST adapter")
        template = getattr(rule, pattern)
        variables = tuple(_VARIABLE.findall(template))
        if _VARIABLE.sub("", template).count("{") or any(v not in method.input_type.fields_by_name for v in variables):
            raise ValueError(f"{method.full_name}: path template {template!r} not supported by the REST adapter")
        found.append(Binding(method, pattern.upper(), template, variables, rule.body == "*"))
    return found


def rpc_routes(servicers: Sequence[Servicer]) -> list[Route]:
    """One route per HTTP binding of every servicer's service, calling the servicer's own method."""
    routes = []
    for servicer in servicers:
        for binding in bindings(servicer.name):
            handler = getattr(servicer.implementation, binding.method.name)
            routes.append(Route(binding.template, _endpoint(binding, handler), methods=[binding.verb]))
    return routes


def _endpoint(binding: Binding, handler: Callable[[Any, Any], Awaitable[Message]]) -> Callable[..., Any]:
    method = f"/{binding.method.containing_service.full_name}/{binding.method.name}"
    message_class = GetMessageClass(binding.method.input_type)

    async def endpoint(request: Request) -> Response:
        with tracing.server_span("rest", method, request.headers) as span:
            return await traced(request, span)

    async def traced(request: Request, span: Any) -> Response:
        correlation_id.set(accept_correlation_id(request.headers.get("x-correlation-id")))
        started = time.perf_counter()
        try:
            message = message_class()
            await _read_into(message, binding, request)
            answer = await handler(message, HttpCall(request))
        except Exception as error:  # noqa: BLE001 - refusals and faults become a Status, as over gRPC
            status = status_for_error(error, method)
            log.info("%s %s -> %s in %.1f ms", request.method, method, status.code.name, _ms(started))
            metrics.observe_rpc("rest", method, status.code.name, time.perf_counter() - started)
            tracing.finish_rpc(span, status.code.name)
            return status_response(status)
        response = Response(_json(answer), media_type=JSON)
        metrics.observe_rpc("rest", method, "OK", time.perf_counter() - started)
        tracing.finish_rpc(span, "OK")
        return response

    return endpoint


async def _read_into(message: Message, binding: Binding, request: Request) -> None:
    """Path variables, then the body (`body: "*"`) or the query (a GET), into `message`."""
    fields = message.DESCRIPTOR.fields_by_name
    bound = {name for v in binding.variables for name in (v, fields[v].json_name)}
    document: dict[str, Any] = {}
    if binding.body_is_message:
        if request.query_params:
            raise InvalidArgument("query", "no query parameters here: the request is the JSON body")
        document = await _json_body(request)
        for key in document.keys() & bound:
            raise InvalidArgument(key, "set by the path; it cannot be in the body")
    else:
        for key, value in request.query_params.multi_items():
            field = _query_field(message.DESCRIPTOR, key)
            if key in bound:
                raise InvalidArgument(key, "set by the path; it cannot be in the query")
            if field.json_name in document:
                raise InvalidArgument(key, "given more than once")
            document[field.json_name] = _scalar(field, value)
    for variable in binding.variables:
        document[fields[variable].json_name] = request.path_params[variable]
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
    except json_format.ParseError:
        raise _Undecodable() from None


def _query_field(descriptor: Descriptor, key: str) -> FieldDescriptor:
    for field in descriptor.fields:
        if key in (field.name, field.json_name) and field.type != FieldDescriptor.TYPE_MESSAGE:
            return field
    raise InvalidArgument(key, "unknown query parameter")


def _scalar(field: FieldDescriptor, value: str) -> Any:
    """A query parameter as the JSON value ParseDict expects (numbers may be strings there; bools not)."""
    if field.type == FieldDescriptor.TYPE_BOOL:
        if value not in ("true", "false"):
            raise InvalidArgument(field.json_name, "must be true or false")
        return value == "true"
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidArgument("body", f"larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw, object_pairs_hook=_once_each)
    except _Duplicate:
        raise DUPLICATE_FIELD from None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays or objects nested too deep
        raise _Undecodable() from None
    if not isinstance(document, dict):
        raise _Undecodable()
    return document


# Proto3 JSON names a field at most once (the conformance suite rejects duplicates; "last one wins" would let
# `{"amount": "1", "amount": "2"}` mean whatever the reader's parser picks). The gateway refuses the same body
# with the same answer (scripts/gen_envoy.py, deploy/envoy/duplicate_fields.lua).
DUPLICATE_FIELD = InvalidArgument("body", "a field is given more than once")


class _Duplicate(ValueError):
    pass


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object hook: an object naming a field twice is refused (at any depth), `account_number` and
    `accountNumber` being one field (the proto name and its JSON name; the contracts have no map fields)."""
    if len({_json_name(key) for key, _ in pairs}) != len(pairs):
        raise _Duplicate()
    return dict(pairs)


def _json_name(key: str) -> str:
    """protobuf's JSON name of a field name: each underscore dropped, the character after it upper-cased."""
    return re.sub(r"_+(.?)", lambda m: m.group(1).upper(), key)


def duplicate_field_answer() -> tuple[int, str]:
    """The HTTP status and JSON body of DUPLICATE_FIELD, as this adapter and the gateway answer it."""
    response = status_response(status_for_error(DUPLICATE_FIELD, ""))
    return response.status_code, bytes(response.body).decode()


class _Undecodable(Exception):
    """The body or parameters are not a valid JSON form of the request message."""


def _json(message: Message) -> str:
    # proto3 JSON as the gateway prints it: lowerCamelCase names, defaults printed, enums as names
    return json_format.MessageToJson(message, always_print_fields_with_no_presence=True, indent=None)


def status_response(status: grpc.Status) -> Response:
    """A refusal as Envoy's transcoder answers it (convert_grpc_status): the google.rpc.Status as JSON, with
    Retry-After from a RetryInfo so a REST client need not read the details to back off."""
    proto = rpc_status_proto(status)
    headers = {}
    for detail in proto.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            headers["retry-after"] = str(max(1, info.retry_delay.seconds + (info.retry_delay.nanos > 0)))
    return Response(_json(proto), HTTP_STATUS.get(proto.code, 500), headers, media_type=JSON)


def rpc_status_proto(status: grpc.Status) -> status_pb2.Status:
    for key, value in status.trailing_metadata or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=status.code.value[0], message=status.details)


def status_for_error(error: Exception, method: str) -> grpc.Status:
    return status_for_undecodable() if isinstance(error, _Undecodable) else status_for_exception(error, method)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
