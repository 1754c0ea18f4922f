"""atheris harness for the consumer side's decoding: a Kafka record made of fuzzed CloudEvents headers and a
fuzzed protobuf payload goes through the consumer runner's decode path (header decoding, route lookup by
`ce_type`, `ce_id` check, protobuf decoding: `KafkaConsumerRunner._decode`), then through the route's
translator (every route of the member and account services' customer-status replica and of the my_accounts
projection), with a projector and a status store that only record. The runner's poison classification
(`PoisonMessage`) is the only exception allowed; anything else is a crash.

    python tests/fuzz/atheris_decoders.py -atheris_runs=10000   # tests/fuzz/test_atheris.py runs this
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import atheris
from google.protobuf.descriptor import FieldDescriptor

with atheris.instrument_imports():
    from adapters.inbound.kafka.customer_events import customer_status_routes
    from adapters.inbound.kafka.my_accounts import projection_routes
    from adapters.inbound.kafka.runner import KafkaConsumerRunner, PoisonMessage, record_headers


class Recorder:
    """Stands for the projector and the status replica: accepts every call."""

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            return None

        return record


async def _apply_status(*args: Any) -> None:
    return None


ROUTES = {**projection_routes(Recorder()), **customer_status_routes(_apply_status)}  # type: ignore[arg-type]
TYPES = sorted(ROUTES)
RUNNER = KafkaConsumerRunner(None, None, "fuzz", [], ROUTES, lambda: None)  # type: ignore[arg-type]
LOOP = asyncio.new_event_loop()


class Record:
    """The part of confluent_kafka.Message the runner reads."""

    def __init__(self, headers: list[tuple[str, bytes | None]], value: bytes | None) -> None:
        self._headers, self._value = headers, value

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self._headers

    def value(self) -> bytes | None:
        return self._value


def _fill(message: Any, fdp: atheris.FuzzedDataProvider, depth: int = 3) -> Any:
    """Structure-aware half: every field of the route's own message type from the fuzzer's bytes (so
    well-formed payloads with extreme values are reached, not only ones the protobuf parser refuses)."""
    for field in message.DESCRIPTOR.fields:
        if not fdp.ConsumeBool():
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth and not field.is_repeated:
                _fill(getattr(message, field.name), fdp, depth - 1)
            continue
        value: Any
        if field.type == FieldDescriptor.TYPE_STRING:
            value = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
        elif field.type == FieldDescriptor.TYPE_BOOL:
            value = fdp.ConsumeBool()
        elif field.type in (FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
            value = fdp.ConsumeIntInRange(-(2**31), 2**31 - 1)
        elif field.type in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64):
            value = fdp.ConsumeIntInRange(0, 2**32 - 1)
        else:
            value = fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)
        if field.is_repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)
    return message


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    headers: list[tuple[str, bytes | None]] = []
    choice = fdp.ConsumeIntInRange(0, 3)
    ce_type = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)].encode() if choice else fdp.ConsumeBytes(40)
    headers.append(("ce_type", ce_type))
    headers.append(("ce_id", fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 70))))
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        name = fdp.ConsumeUnicodeNoSurrogates(12)
        headers.append((name, None if fdp.ConsumeBool() else fdp.ConsumeBytes(20)))
    shape = fdp.ConsumeIntInRange(0, 20)
    if shape == 0:
        value = None
    elif shape < 10 and choice:
        value = _fill(ROUTES[ce_type.decode()].message_type(), fdp).SerializeToString()
    else:
        value = fdp.ConsumeBytes(fdp.remaining_bytes())
    record = Record(headers, value)
    decoded = record_headers(record)  # type: ignore[arg-type]
    if decoded.get("ce_type", "") not in ROUTES and decoded.get("ce_id"):
        return  # a type this service does not follow: skipped, never decoded
    try:
        _event_id, route, event = RUNNER._decode(record, decoded)  # type: ignore[arg-type]
        LOOP.run_until_complete(route.handle(event, None))
    except PoisonMessage:
        return


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
