"""A Kafka restart (reliability.md D-scenarios: the broker goes away and comes back): the services keep
answering while it is down (the events wait in each outbox, which `GetOutboxStatus` shows), and once it is
back every event is published and consumed exactly once: the member service learns of every customer
registered during the outage and enrolls them."""

from __future__ import annotations

import subprocess
import time

import grpc
import pytest

from bank.customer.v1 import customer_service_pb2 as customer_msgs
from bank.ops.v1 import ops_service_pb2, ops_service_pb2_grpc
from tests.conftest import KAFKA_SCRIPT
from tests.integration.kafka_tools import read_records
from tests.integration.test_member_service import System
from tests.operator import operator_metadata
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
BEFORE, DURING = 5, 20


def outbox_pending(address: str, var_dir: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = ops_service_pb2_grpc.OutboxServiceStub(channel)
        answer = stub.GetOutboxStatus(
            ops_service_pb2.GetOutboxStatusRequest(), metadata=operator_metadata(var_dir), timeout=5
        )
    return answer.pending


def broker(action: str) -> None:
    """scripts/kafka-local.sh stop|start: the same broker (port, data) every test of the run uses. A start is
    tried again if its own wait for readiness ran out (a loaded machine): start is idempotent."""
    for _ in range(3):
        done = subprocess.run(["bash", str(KAFKA_SCRIPT), action], capture_output=True, text=True, timeout=300)
        if done.returncode == 0:
            return
    raise AssertionError(f"kafka-local.sh {action} failed 3 times: {done.stdout}{done.stderr}")


def test_a_kafka_restart_loses_and_doubles_nothing(service_factory, kafka: str, topic_prefix: str) -> None:  # type: ignore[no-untyped-def]
    system = System(service_factory)
    customer = system.customer_service
    registered = [system.register() for _ in range(BEFORE)]
    for customer_id in registered:
        system.enroll(customer_id, f"k{customer_id[:8]}")

    stopped_at = time.monotonic()
    broker("stop")
    try:
        during = [system.register() for _ in range(DURING)]  # answered from the database alone
        pending = outbox_pending(customer.address, system.var_dir)
        assert pending >= DURING, pending
    finally:
        broker("start")
    down = time.monotonic() - stopped_at

    deadline = time.monotonic() + 60
    while outbox_pending(customer.address, system.var_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    drained = time.monotonic() - stopped_at - down
    assert outbox_pending(customer.address, system.var_dir) == 0
    for customer_id in during:  # the member service consumed them: it knows each customer
        system.enroll(customer_id, f"k{customer_id[:8]}", timeout=60)
    topic = topic_prefix + "bank.customer.events.v1"
    ids = [r.headers["ce_id"] for c in [*registered, *during] for r in read_records(kafka, topic, c, 1, timeout=10)]
    assert len(set(ids)) == BEFORE + DURING  # one CustomerRegistered each
    record(
        f"Kafka restart: broker down {down:.1f}s while {DURING} customers were registered (outbox held {pending}); "
        f"outbox drained {drained:.1f}s after the restart; {BEFORE + DURING} events published once each, "
        f"every customer known to the member service"
    )
    system.customers.GetCustomer(customer_msgs.GetCustomerRequest(customer_id=during[0]), timeout=5)
