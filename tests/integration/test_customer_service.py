"""The customer service as operators run it, against the real broker: commands over gRPC, their events on
the topic with the right key, headers and payload; bad input refused with nothing changed."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank.customer.v1 import customer_pb2, customer_service_pb2_grpc, events_pb2
from bank.customer.v1 import customer_service_pb2 as msgs
from tests.databases import BACKENDS
from tests.integration.kafka_tools import read_records
from tests.operator import operator_channel

pytestmark = pytest.mark.kafka
TOPIC = "bank.customer.events.v1"


def stub(service) -> customer_service_pb2_grpc.CustomerServiceStub:  # type: ignore[no-untyped-def]
    """Every RPC of the customer service is an operator's: the channel adds an operator token."""
    return customer_service_pb2_grpc.CustomerServiceStub(operator_channel(service.address, service.env["VAR_DIR"]))


@pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)
def test_register_and_terminate_publish_both_events(service_factory, kafka: str, topic_prefix: str) -> None:
    service = service_factory("customer")
    service.start()
    customers = stub(service)
    metadata = [("x-correlation-id", "test-corr-1")]
    customer = customers.RegisterCustomer(
        msgs.RegisterCustomerRequest(name="Hong"), metadata=metadata, timeout=5
    ).customer
    terminated = customers.TerminateCustomer(
        msgs.TerminateCustomerRequest(customer_id=customer.customer_id), metadata=metadata, timeout=5
    ).customer
    assert terminated.status == customer_pb2.CUSTOMER_STATUS_TERMINATED

    records = read_records(kafka, topic_prefix + TOPIC, customer.customer_id, expected=2)
    assert [r.headers["ce_type"] for r in records] == [
        "bank.customer.v1.CustomerRegistered",
        "bank.customer.v1.CustomerTerminated",
    ]
    assert len({r.partition for r in records}) == 1  # one key, one partition, in order
    for record in records:
        assert record.headers["ce_specversion"] == "1.0"
        assert record.headers["ce_source"] == "/bank/customer"
        assert record.headers["correlation-id"] == "test-corr-1"
        assert record.headers["content-type"] == "application/protobuf"
        assert len(record.headers["ce_id"]) == 36 and record.headers["ce_time"].endswith("Z")
    registered = events_pb2.CustomerRegistered.FromString(records[0].value)
    ended = events_pb2.CustomerTerminated.FromString(records[1].value)
    assert (registered.customer_id, registered.customer_version) == (customer.customer_id, 1)
    assert (ended.customer_id, ended.customer_version) == (customer.customer_id, 2)


BAD_REQUESTS = [
    ("RegisterCustomer", msgs.RegisterCustomerRequest(name=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("RegisterCustomer", msgs.RegisterCustomerRequest(name="   "), grpc.StatusCode.INVALID_ARGUMENT),
    ("RegisterCustomer", msgs.RegisterCustomerRequest(name="x" * 10_000), grpc.StatusCode.INVALID_ARGUMENT),
    ("RegisterCustomer", msgs.RegisterCustomerRequest(name="a\u0000b"), grpc.StatusCode.INVALID_ARGUMENT),
    ("GetCustomer", msgs.GetCustomerRequest(customer_id="not-an-id"), grpc.StatusCode.INVALID_ARGUMENT),
    (
        "GetCustomer",
        msgs.GetCustomerRequest(customer_id="'; DROP TABLE customers;--"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    ("SuspendCustomer", msgs.SuspendCustomerRequest(customer_id=""), grpc.StatusCode.INVALID_ARGUMENT),
    (
        "TerminateCustomer",
        msgs.TerminateCustomerRequest(customer_id="2d5b6b84-ea31-4287-92fc-5c12b4d6f24e"),
        grpc.StatusCode.NOT_FOUND,
    ),
]


def test_bad_input_is_refused_clearly_and_changes_nothing(service_factory, tmp_path: Path) -> None:
    service = service_factory("customer")
    service.start()
    customers = stub(service)
    for method, request, code in BAD_REQUESTS:
        with pytest.raises(grpc.RpcError) as refused:
            getattr(customers, method)(request, timeout=5)
        assert refused.value.code() == code, method
        status = rpc_status.from_call(refused.value)
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info) and info.domain == "bank"
        assert "Traceback" not in refused.value.details() and "sqlite" not in refused.value.details().lower()
    # A terminated customer cannot be reinstated; the refusal changes nothing.
    customer = customers.RegisterCustomer(msgs.RegisterCustomerRequest(name="Kim"), timeout=5).customer
    customers.TerminateCustomer(msgs.TerminateCustomerRequest(customer_id=customer.customer_id), timeout=5)
    with pytest.raises(grpc.RpcError) as refused:
        customers.ReinstateCustomer(msgs.ReinstateCustomerRequest(customer_id=customer.customer_id), timeout=5)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    again = customers.GetCustomer(msgs.GetCustomerRequest(customer_id=customer.customer_id), timeout=5).customer
    assert (again.status, again.version) == (customer_pb2.CUSTOMER_STATUS_TERMINATED, 2)
    db = sqlite3.connect(tmp_path / "var" / "customer.db")
    assert db.execute("select count(*) from customers").fetchone() == (1,)
    assert db.execute("select count(*) from outbox").fetchone() == (2,)


def test_undecodable_request_bytes_are_invalid_argument(service_factory) -> None:
    service = service_factory("customer")
    service.start()
    channel = grpc.insecure_channel(service.address)
    raw = channel.unary_unary(
        "/bank.customer.v1.CustomerService/RegisterCustomer",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    for junk in [b"\xff\xff\xff", b"\x0a\x05\xff\xfe\xfd\xfc\xfb", b"\x0a\xff\xff\xff\xff\x0f"]:
        with pytest.raises(grpc.RpcError) as refused:
            raw(junk, timeout=5)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_event_committed_while_the_relay_is_down_is_delivered_after_restart(
    service_factory, kafka: str, tmp_path: Path
) -> None:
    service = service_factory("customer", OUTBOX_RELAY="off")
    service.start()
    relay = service.start("relay")
    time.sleep(1)
    relay.send_signal(signal.SIGKILL)  # the relay dies...
    relay.wait(timeout=10)
    customer = stub(service).RegisterCustomer(msgs.RegisterCustomerRequest(name="Yoon"), timeout=5).customer
    db = sqlite3.connect(tmp_path / "var" / "customer.db")
    assert db.execute("select sent_at from outbox").fetchall() == [(None,)]  # ...after the commit, before publishing
    relay = service.start("relay")  # restarted, it publishes what waits in the outbox
    try:
        [record] = read_records(kafka, service.env["KAFKA_TOPIC_PREFIX"] + TOPIC, customer.customer_id, expected=1)
        assert record.headers["ce_type"] == "bank.customer.v1.CustomerRegistered"
        deadline = time.monotonic() + 10
        while db.execute("select sent_at from outbox").fetchone()[0] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db.execute("select sent_at from outbox").fetchone()[0] is not None
    finally:
        relay.terminate()
        relay.wait(timeout=10)


def test_health_turns_not_serving_and_the_process_exits_on_sigterm(service_factory) -> None:
    service = service_factory("customer")
    process = service.start()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert '"stopping"' in service.logs() or "stopping" in service.logs()
