"""Trace context across the adapters: the gRPC interceptor and the REST adapter continue the caller's
`traceparent`; the snapshot client sends one; events carry the committing span in `ce_traceparent`, and the
consumer's span continues it; log lines carry trace and span ids. Spans are collected in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from adapters.common import tracing
from adapters.common.logging import _ContextFilter
from adapters.inbound.grpc.server import GrpcServer, ServerOptions
from adapters.outbound.events.member import member_events
from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory
from bank.my_accounts.v1 import my_accounts_service_pb2 as pb
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from domain.member.events import LoginSucceeded
from tests.unit.test_metrics import NOW

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the first in this process: services set theirs at start
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def ids(span_context: trace.SpanContext) -> tuple[str, str]:
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


async def test_grpc_server_span_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    spans.clear()
    server = GrpcServer([], ServerOptions(grace=0))
    await server.start()
    await server.set_serving(True)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        await stub.Check(health_pb2.HealthCheckRequest(), metadata=(("traceparent", TRACEPARENT),), timeout=5)
    await server.stop()
    [span] = [s for s in spans.get_finished_spans() if s.name == "grpc.health.v1.Health/Check"]
    assert span.kind is SpanKind.SERVER
    assert ids(span.context)[0] == TRACE_ID and span.parent is not None and ids(span.parent)[1] == PARENT_ID
    assert span.attributes["rpc.method"] == "Check" and span.attributes["rpc.grpc.status_code"] == 0


class Recorder(my_accounts_service_pb2_grpc.AccountsSnapshotServiceServicer):
    metadata: dict[str, str] = {}

    async def GetAccountsSnapshot(self, request, context):  # type: ignore[no-untyped-def]
        Recorder.metadata = dict(context.invocation_metadata())
        return pb.GetAccountsSnapshotResponse()


async def test_snapshot_client_sends_its_span_as_traceparent(spans: InMemorySpanExporter) -> None:
    server = grpc.aio.server()
    my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server(Recorder(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with trace.get_tracer("test").start_as_current_span("login") as login:
                await GrpcAccountsDirectory(channel, deadline_seconds=5).snapshot("c")
    finally:
        await server.stop(0)
    sent = Recorder.metadata["traceparent"]
    client = next(s for s in spans.get_finished_spans() if s.name.endswith("/GetAccountsSnapshot"))
    assert sent.startswith(f"00-{ids(client.context)[0]}-{ids(client.context)[1]}-")  # then the trace flags
    assert ids(client.context)[0] == ids(login.get_span_context())[0]


def test_events_carry_the_committing_span_and_the_consumer_continues_it(spans: InMemorySpanExporter) -> None:
    event = LoginSucceeded(event_id="e", occurred_at=NOW, customer_id="c", member_id="m", session_id="s")
    assert "ce_traceparent" not in member_events.encode(event).headers  # outside any span: nothing to carry
    with trace.get_tracer("test").start_as_current_span("commit") as commit:
        headers = member_events.encode(event).headers
    trace_id, span_id = ids(commit.get_span_context())
    assert headers["ce_traceparent"].startswith(f"00-{trace_id}-{span_id}-")

    with tracing.consumer_span("bank.member.events.v1", 3, tracing.event_context(headers)) as applied:
        pass
    assert ids(applied.get_span_context())[0] == trace_id
    [span] = [s for s in spans.get_finished_spans() if s.name == "process bank.member.events.v1"]
    assert span.kind is SpanKind.CONSUMER and span.parent is not None and ids(span.parent)[1] == span_id
    assert span.attributes["messaging.destination.partition.id"] == "3"


def test_log_lines_carry_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    _ContextFilter("svc").filter(record)
    assert (record.trace_id, record.span_id) == ("", "")
    with trace.get_tracer("test").start_as_current_span("call") as span:
        _ContextFilter("svc").filter(record)
    assert (record.trace_id, record.span_id) == ids(span.get_span_context())
