"""`bank demo`: the customer lifecycle through the public gRPC API only, then its events read back from
Kafka. Each answer is checked, so the demo doubles as a smoke test (non-zero exit on any surprise)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_status import rpc_status
from rich.console import Console

from bank.customer.v1 import customer_pb2, customer_service_pb2_grpc, events_pb2
from bank.customer.v1 import customer_service_pb2 as msgs
from services.cli.console import CliError

TOPIC = "bank.customer.events.v1"
NAME = "홍길동"
EXPECTED_EVENTS = [
    ("bank.customer.v1.CustomerRegistered", 1),
    ("bank.customer.v1.CustomerSuspended", 2),
    ("bank.customer.v1.CustomerReinstated", 3),
    ("bank.customer.v1.CustomerTerminated", 4),
]


def status_name(value: int) -> str:
    return customer_pb2.CustomerStatus.Name(value).removeprefix("CUSTOMER_STATUS_")


@dataclass
class Event:
    type: str
    ce_id: str
    customer_version: int
    partition: int
    offset: int


@dataclass
class Report:
    correlation_id: str
    customer_id: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def as_dict(self, ok: bool, error: str | None = None) -> dict[str, Any]:
        return {
            "ok": ok,
            "error": error,
            "correlation_id": self.correlation_id,
            "customer_id": self.customer_id,
            "steps": self.steps,
            "events": [vars(e) for e in self.events],
        }


class DemoFailed(CliError):
    """A step's answer was not the expected one."""


class Demo:
    def __init__(self, address: str, bootstrap: str, console: Console, rpc_timeout: float, event_timeout: float):
        self.console = console
        self.bootstrap = bootstrap
        self.rpc_timeout = rpc_timeout
        self.event_timeout = event_timeout
        self.channel = grpc.insecure_channel(address)
        self.stub = customer_service_pb2_grpc.CustomerServiceStub(self.channel)
        # One correlation id for the whole demo: it shows up in the service's log lines and event headers.
        self.report = Report(correlation_id=f"bank-demo-{uuid.uuid4()}")
        self.address = address

    def call(self, method: str, request: Any) -> Any:
        """One RPC with a deadline; an unexpected error fails the demo with its code and message."""
        try:
            return getattr(self.stub, method)(
                request, timeout=self.rpc_timeout, metadata=[("x-correlation-id", self.report.correlation_id)]
            )
        except grpc.RpcError as exc:
            raise DemoFailed(f"{method} failed: {describe(exc)}") from None

    def step(self, title: str, detail: str, **data: Any) -> None:
        n = len(self.report.steps) + 1
        self.report.steps.append({"step": n, "title": title, "detail": detail, **data})
        self.console.print(f"[bold]{n}.[/] {title}\n   [green]✓[/] {detail}", highlight=False)

    def expect(self, what: str, customer: customer_pb2.Customer, status: int, version: int) -> None:
        got = (customer.customer_id, customer.name, customer.status, customer.version)
        want = (self.report.customer_id, NAME, status, version)
        if got != want:
            raise DemoFailed(
                f"{what}: expected {status_name(status)} version {version}, "
                f"got {status_name(customer.status)} version {customer.version} (id {customer.customer_id!r})"
            )

    def shown(self, customer: customer_pb2.Customer) -> str:
        return f"{customer.name} is {status_name(customer.status)} (version {customer.version})"

    def run(self) -> Report:
        self.console.print(
            f"Customer service at [cyan]{self.address}[/], correlation id [cyan]{self.report.correlation_id}[/]\n",
            highlight=False,
        )
        registered = self.call("RegisterCustomer", msgs.RegisterCustomerRequest(name=NAME)).customer
        self.report.customer_id = registered.customer_id
        self.expect("RegisterCustomer", registered, customer_pb2.CUSTOMER_STATUS_NORMAL, 1)
        self.step(
            f"Register a customer named {NAME}",
            f"registered with id {registered.customer_id}; {self.shown(registered)}",
            customer_id=registered.customer_id,
        )
        cid = registered.customer_id

        shown = self.call("GetCustomer", msgs.GetCustomerRequest(customer_id=cid)).customer
        self.expect("GetCustomer", shown, customer_pb2.CUSTOMER_STATUS_NORMAL, 1)
        self.step("Look the customer up", self.shown(shown))

        for method, request, status, version, title in [
            ("SuspendCustomer", msgs.SuspendCustomerRequest, customer_pb2.CUSTOMER_STATUS_SUSPENDED, 2, "Suspend"),
            ("ReinstateCustomer", msgs.ReinstateCustomerRequest, customer_pb2.CUSTOMER_STATUS_NORMAL, 3, "Reinstate"),
            (
                "TerminateCustomer",
                msgs.TerminateCustomerRequest,
                customer_pb2.CUSTOMER_STATUS_TERMINATED,
                4,
                "Terminate (해지)",
            ),
        ]:
            changed = self.call(method, request(customer_id=cid)).customer
            self.expect(method, changed, status, version)
            self.step(f"{title} the customer", self.shown(changed))

        self.refused_reinstatement(cid)
        self.read_events(cid)
        return self.report

    def refused_reinstatement(self, cid: str) -> None:
        try:
            self.stub.ReinstateCustomer(
                msgs.ReinstateCustomerRequest(customer_id=cid),
                timeout=self.rpc_timeout,
                metadata=[("x-correlation-id", self.report.correlation_id)],
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise DemoFailed(
                    f"reinstating a terminated customer: expected FAILED_PRECONDITION, got {describe(exc)}"
                ) from None
            self.step(
                "Try to reinstate the terminated customer",
                f"refused: {exc.code().name}: {exc.details()}{reason(exc)}",
                code=exc.code().name,
                message=exc.details(),
            )
        else:
            raise DemoFailed("reinstating a terminated customer was accepted; it must be refused (FAILED_PRECONDITION)")
        after = self.call("GetCustomer", msgs.GetCustomerRequest(customer_id=cid)).customer
        self.expect("GetCustomer after the refusal", after, customer_pb2.CUSTOMER_STATUS_TERMINATED, 4)
        self.step("Look the customer up again", f"unchanged: {self.shown(after)}")

    def read_events(self, cid: str) -> None:
        with self.console.status(f"reading events from {TOPIC} (up to {self.event_timeout:.0f} s)"):
            events, last_error = read_events(self.bootstrap, cid, len(EXPECTED_EVENTS), self.event_timeout)
        self.report.events = events
        got = [(e.type, e.customer_version) for e in events]
        if got != EXPECTED_EVENTS:
            hint = f" (last Kafka error: {last_error})" if last_error else ""
            raise DemoFailed(
                f"events of customer {cid} on {TOPIC} at {self.bootstrap}: expected {short(EXPECTED_EVENTS)}, "
                f"got {short(got)}{hint}"
            )
        self.step(f"Read the customer's events back from Kafka ({TOPIC})", f"{len(events)} events, in order:")
        for e in events:
            self.console.print(
                f"     {e.type.rsplit('.', 1)[-1]:<20} ce_id={e.ce_id}  customer_version={e.customer_version}",
                highlight=False,
            )

    def close(self) -> None:
        self.channel.close()


def short(events: list[tuple[str, int]]) -> str:
    return ", ".join(f"{t.rsplit('.', 1)[-1]} v{v}" for t, v in events) or "none"


def describe(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)


def reason(exc: grpc.RpcError) -> str:
    """The ErrorInfo reason from the rich error details, if the service sent one."""
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(exc) if isinstance(exc, grpc.Call) else None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return f" (reason {info.reason}, domain {info.domain})"
    return ""


def read_events(bootstrap: str, key: str, expected: int, timeout: float) -> tuple[list[Event], str | None]:
    """Every record of `key` on the topic from the beginning (a fresh consumer group, nothing committed),
    until `expected` distinct events arrived or `timeout` seconds passed. Duplicates (the relay publishes
    at least once) are dropped by ce_id, as the real consumers do."""
    from confluent_kafka import Consumer, KafkaError  # imported here: only the demo needs the Kafka client

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bank-demo-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    events: list[Event] = []
    seen: set[str] = set()
    last_error: str | None = None
    deadline = time.monotonic() + timeout
    try:
        consumer.subscribe([TOPIC])
        while len(events) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        last_error = error.str()
                    continue
                if (msg.key() or b"").decode() != key:
                    continue
                headers = {k: (v or b"").decode() for k, v in msg.headers() or []}
                ce_id, ce_type = headers.get("ce_id", ""), headers.get("ce_type", "")
                if ce_id in seen:
                    continue
                seen.add(ce_id)
                version = decode_version(ce_type, msg.value() or b"")
                events.append(Event(ce_type, ce_id, version, msg.partition(), msg.offset()))
    finally:
        consumer.close()
    return events, last_error


def decode_version(ce_type: str, value: bytes) -> int:
    """customer_version from the payload, decoded by the message type its ce_type header names; -1 if the
    type is not a customer event (the check against the expected list then fails)."""
    package, _, name = ce_type.rpartition(".")
    cls = getattr(events_pb2, name, None) if package == "bank.customer.v1" else None
    if cls is None:
        return -1
    return cls.FromString(value).customer_version


def run(
    address: str, bootstrap: str, console: Console, rpc_timeout: float, event_timeout: float
) -> tuple[Report, DemoFailed | None]:
    demo = Demo(address, bootstrap, console, rpc_timeout, event_timeout)
    try:
        return demo.run(), None
    except DemoFailed as exc:
        return demo.report, exc
    finally:
        demo.close()
