"""The customer context's domain events as `bank.customer.v1` integration events."""

from __future__ import annotations

from adapters.common.protobuf import timestamp
from adapters.outbound.events.cloudevents import EventEncoder
from bank.customer.v1 import events_pb2 as pb
from domain.customer import events

TOPIC = "bank.customer.events.v1"


def _status_event(message_type):  # type: ignore[no-untyped-def]
    return lambda e: message_type(
        customer_id=e.customer_id, customer_version=e.customer_version, occurred_at=timestamp(e.occurred_at)
    )


customer_events = EventEncoder(
    TOPIC,
    "/bank/customer",
    {
        events.CustomerRegistered: _status_event(pb.CustomerRegistered),
        events.CustomerSuspended: _status_event(pb.CustomerSuspended),
        events.CustomerReinstated: _status_event(pb.CustomerReinstated),
        events.CustomerTerminated: _status_event(pb.CustomerTerminated),
    },
)
