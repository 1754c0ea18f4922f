"""OpenTelemetry traces: W3C trace context (`traceparent`, `tracestate`) carried in gRPC metadata, REST
headers and, for events, the CloudEvents distributed-tracing extension in the Kafka headers (`ce_traceparent`,
`ce_tracestate`), so one trace follows a call into the events it caused and the consumers that applied them.

Spans are always made (their ids are in every JSON log line beside the correlation id), and exported over
OTLP/HTTP only when the service is configured with an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT; the exporter
reads its other OTEL_EXPORTER_OTLP_* settings itself). Span names and attributes hold method and topic
names only, never a request's content."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from google.rpc import code_pb2
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

_tracer = trace.get_tracer("bank")

# Server-side faults mark a span as an error; refusals (INVALID_ARGUMENT, UNAUTHENTICATED...) do not.
FAULTS = frozenset({"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "DEADLINE_EXCEEDED", "UNIMPLEMENTED"})
_CODES = dict(code_pb2.Code.items())


def configure_tracing(service: str, export: bool) -> TracerProvider:
    """This process's tracer provider, named after the service; with `export`, spans go to the OTLP endpoint
    of the environment (OTLP/HTTP, batched)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if export:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as hex, or empty strings outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@contextmanager
def server_span(protocol: str, full_method: str, carrier: Mapping[str, object]) -> Iterator[Span]:
    """The span of one RPC served, child of the caller's `traceparent` if it sent one. End it with
    `finish_rpc(span, code)`."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    with _tracer.start_as_current_span(
        f"{service}/{method}",
        context=propagate.extract(carrier),
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method, "bank.protocol": protocol},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def finish_rpc(span: Span, code: str) -> None:
    span.set_attribute("rpc.grpc.status_code", _CODES.get(code, code_pb2.UNKNOWN))
    if code in FAULTS:
        span.set_status(Status(StatusCode.ERROR, code))


@contextmanager
def client_span(full_method: str) -> Iterator[dict[str, str]]:
    """The span of one outgoing call; yields the headers (metadata) that carry it to the server."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    with _tracer.start_as_current_span(
        f"{service}/{method}",
        kind=SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield carrier


def event_headers() -> dict[str, str]:
    """The current trace context as CloudEvents extension headers (binary mode): ce_traceparent, ce_tracestate."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {f"ce_{k}": v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def event_context(headers: Mapping[str, str]) -> Context:
    """The trace context a record's CloudEvents headers carry (an empty one if none)."""
    carrier = {k: headers[f"ce_{k}"] for k in ("traceparent", "tracestate") if headers.get(f"ce_{k}")}
    return propagate.extract(carrier)


@contextmanager
def consumer_span(topic: str, partition: int, parent: Context) -> Iterator[Span]:
    """The span of applying one record, child of the span that committed the event."""
    with _tracer.start_as_current_span(
        f"process {topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
        },
    ) as span:
        yield span
