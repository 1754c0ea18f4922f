"""Reading topics in tests: every record for a key, with its headers, within a deadline."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer

from tests.kafka_auth import admin


@dataclass
class Record:
    key: str
    value: bytes
    headers: dict[str, str]
    partition: int
    offset: int


def read_records(bootstrap: str, topic: str, key: str, expected: int, timeout: float = 30.0) -> list[Record]:
    """All records of `key` on `topic` from the beginning, waiting until at least `expected` arrived."""
    consumer = Consumer(
        {
            **admin(bootstrap),
            "group.id": f"test-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error() is not None or (msg.key() or b"").decode() != key:
                    continue
                headers = {k: (v or b"").decode() for k, v in msg.headers() or []}
                found.append(Record(key, msg.value(), headers, msg.partition(), msg.offset()))
            if len(found) >= expected:
                # keep reading briefly, so an unexpected extra record is seen too
                end = time.monotonic() + 0.5
                while time.monotonic() < end:
                    for msg in consumer.consume(500, 0.1):
                        if msg.error() is None and (msg.key() or b"").decode() == key:
                            headers = {k: (v or b"").decode() for k, v in msg.headers() or []}
                            found.append(Record(key, msg.value(), headers, msg.partition(), msg.offset()))
                return found
    finally:
        consumer.close()
    return found
