"""Topics are created explicitly (the broker does not auto-create them): partitions set here, replication
from the environment (1 on a laptop, 3 on a cluster)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)

EVENT_TOPICS = ("bank.customer.events.v1", "bank.member.events.v1", "bank.account.events.v1")
DEFAULT_PARTITIONS = 3


def ensure_topics(
    bootstrap_servers: str | AdminClient,
    topics: tuple[str, ...] | list[str] = EVENT_TOPICS,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    timeout: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Create the missing topics and wait until the broker reports leaders for all their partitions.
    `security`: the client settings of the principal creating them (security.client_config); a principal
    sees (Describe) and may create only its own topics."""
    if isinstance(bootstrap_servers, AdminClient):
        admin = bootstrap_servers
    else:
        admin = AdminClient({"bootstrap.servers": bootstrap_servers, **(security or {})})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
        for t in topics
        if t not in existing
    ]
    for topic, future in admin.create_topics(missing, operation_timeout=timeout).items() if missing else []:
        try:
            future.result()
            log.info("created topic %s", topic)
        except KafkaException as exc:
            if exc.args[0].code() != "TOPIC_ALREADY_EXISTS" and exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=timeout).topics
        if all(
            t in metadata and metadata[t].partitions and all(p.leader >= 0 for p in metadata[t].partitions.values())
            for t in topics
        ):
            return
        time.sleep(0.1)
    raise TimeoutError("topics have no leaders yet")
