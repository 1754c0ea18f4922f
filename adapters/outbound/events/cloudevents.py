"""Domain events as Kafka records: a serialized protobuf value and CloudEvents binary-mode headers
(`ce_id`, `ce_type`, `ce_source`, `ce_time`, `ce_specversion`), the distributed-tracing extension
(`ce_traceparent`, `ce_tracestate`: the span that committed the event) and `correlation-id`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message

from adapters.common.context import correlation_id
from adapters.common.tracing import event_headers
from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class OutgoingMessage:
    """A record ready for the outbox: everything the relay needs to publish it, and nothing to recompute."""

    event_id: str
    topic: str
    key: str
    ce_type: str
    payload: bytes
    headers: dict[str, str]


class EventEncoder:
    """Maps each domain event class of one context to its protobuf integration event."""

    def __init__(self, topic: str, source: str, translators: dict[type, Callable[[DomainEvent], Message]]) -> None:
        self._topic = topic
        self._source = source
        self._translators = translators

    def with_topic_prefix(self, prefix: str) -> EventEncoder:
        """The same encoder publishing to `prefix` + its topic (see KAFKA_TOPIC_PREFIX)."""
        return EventEncoder(prefix + self._topic, self._source, self._translators)

    def encode(self, event: DomainEvent) -> OutgoingMessage:
        message = self._translators[type(event)](event)
        ce_type = message.DESCRIPTOR.full_name
        headers = {
            "ce_specversion": "1.0",
            "ce_id": event.event_id,
            "ce_type": ce_type,
            "ce_source": self._source,
            "ce_time": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "content-type": "application/protobuf",
        }
        headers.update(event_headers())
        if cid := correlation_id.get():
            headers["correlation-id"] = cid
        return OutgoingMessage(
            event.event_id, self._topic, event.customer_id, ce_type, message.SerializeToString(), headers
        )
