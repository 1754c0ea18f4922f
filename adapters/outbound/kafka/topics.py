"""Topics are created explicitly (the broker does not auto-create them): partitions set here, replication
from the environment (1 on a laptop, 3 on a cluster)."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)

EVENT_TOPICS = ("bank.customer.events.v1", "bank.member.events.v1", "bank.account.events.v1")
DEFAULT_PARTITIONS = 3


def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[str, ...] | list[str] = EVENT_TOPICS,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> None:
    """Create the missing topics and wait until the broker reports leaders for all their partitions."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
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
