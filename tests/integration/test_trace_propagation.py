"""Trace context across processes: a gRPC call's `traceparent` becomes the parent of the service's span, is
in that service's JSON log lines (trace_id beside the correlation id), and travels with the events the call
committed, through the outbox and Kafka, as `ce_traceparent`. Spans are exported over OTLP/HTTP only when
OTEL_EXPORTER_OTLP_ENDPOINT is set (here, to a stand-in collector)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from bank.customer.v1 import customer_service_pb2 as msgs
from tests.integration.kafka_tools import read_records
from tests.integration.test_customer_service import TOPIC, stub

pytestmark = pytest.mark.kafka


def traceparent() -> tuple[str, str]:
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"


def test_traceparent_reaches_the_logs_and_the_events(service_factory, kafka: str, topic_prefix: str) -> None:
    service = service_factory("customer")
    service.start()
    customers = stub(service)

    registered_trace, header = traceparent()
    customer = customers.RegisterCustomer(
        msgs.RegisterCustomerRequest(name="Hong"), metadata=[("traceparent", header)], timeout=5
    ).customer
    [record] = read_records(kafka, topic_prefix + TOPIC, customer.customer_id, expected=1)
    assert record.headers["ce_traceparent"].startswith(f"00-{registered_trace}-")
    assert record.headers["ce_traceparent"] != header  # the service's own span, child of the caller's

    refused_trace, header = traceparent()
    with pytest.raises(grpc.RpcError):
        customers.GetCustomer(
            msgs.GetCustomerRequest(customer_id=str(uuid.uuid4())), metadata=[("traceparent", header)], timeout=5
        )
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]
        refused = [line for line in lines if line.get("trace_id") == refused_trace]
        if any("GetCustomer -> NOT_FOUND" in line["message"] for line in refused) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [answer] = [line for line in refused if "GetCustomer -> NOT_FOUND" in line["message"]]
    assert len(answer["span_id"]) == 16 and answer["correlation_id"]


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(service_factory) -> None:
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        service = service_factory(
            "customer",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_port}",
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        service.start()
        trace_id, header = traceparent()
        stub(service).RegisterCustomer(
            msgs.RegisterCustomerRequest(name="Hong"), metadata=[("traceparent", header)], timeout=5
        )
        deadline = time.monotonic() + 15
        while not any(bytes.fromhex(trace_id) in body for _, body in received) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        collector.shutdown()
    assert {path for path, _ in received} == {"/v1/traces"}
    assert any(bytes.fromhex(trace_id) in body for _, body in received)  # the call's span, in OTLP protobuf
