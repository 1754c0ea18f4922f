"""Customer events as the consuming contexts see them: one translation, from `bank.customer.v1` messages to
(customer id, status, version), shared by every context that keeps a replica of customer status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from adapters.inbound.kafka.runner import Route
from bank.customer.v1 import events_pb2 as pb

TOPIC = "bank.customer.events.v1"

STATUS_AFTER = {
    pb.CustomerRegistered: "NORMAL",
    pb.CustomerSuspended: "SUSPENDED",
    pb.CustomerReinstated: "NORMAL",
    pb.CustomerTerminated: "TERMINATED",
}

# apply(customer_id, status, version, unit of work)
ApplyStatus = Callable[[str, str, int, Any], Awaitable[None]]


def customer_status_routes(apply: ApplyStatus) -> dict[str, Route]:
    """Routes for the consumer runner: every customer event becomes one status change, by version."""

    def route(message_type: type) -> Route:
        status = STATUS_AFTER[message_type]

        async def handle(event: Any, tx: Any) -> None:
            await apply(event.customer_id, status, event.customer_version, tx)

        return Route(message_type, handle)

    return {t.DESCRIPTOR.full_name: route(t) for t in STATUS_AFTER}
