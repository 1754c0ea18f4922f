"""Every outbound call has a deadline (reliability.md: no call may wait forever on a dependency). Read from the
source, so a new call without one fails here before it hangs anything:

- gRPC calls through a stub (`self._stub.Method(...)`, `stub.Method(...)`, `getattr(stub, name)(...)`) pass
  `timeout=`;
- HTTP calls (`urllib.request.urlopen`, `httpx.get/post/request/...`) pass `timeout=`;
- Kafka client calls that block (flush, poll, consume, list_topics, committed, get_watermark_offsets) pass a
  timeout (positionally or by name), or `cached=True` where the client answers from memory."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("adapters", "src/services") for p in (ROOT / folder).rglob("*.py")]
HTTP = {"urlopen", "get", "post", "put", "delete", "request", "stream"}
# method -> index of the positional timeout argument
KAFKA_BLOCKING = {"flush": 0, "poll": 0, "consume": 1, "list_topics": 1, "committed": 1, "get_watermark_offsets": 1}
KAFKA_RECEIVERS = ("producer", "consumer", "admin", "_dlq")


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _has_timeout(call: ast.Call, position: int | None = None) -> bool:
    if any(k.arg in ("timeout", "cached") for k in call.keywords):
        return True
    return position is not None and len(call.args) > position


def _outbound(call: ast.Call) -> str | None:
    """What kind of outbound call this is (gRPC, HTTP, Kafka), or None."""
    func = call.func
    if isinstance(func, ast.Call):  # getattr(stub, name)(...)
        is_rpc = _text(func.func) == "getattr" and bool(func.args) and "stub" in _text(func.args[0]).lower()
        return "gRPC" if is_rpc else None
    if not isinstance(func, ast.Attribute):
        return None
    receiver, name = _text(func.value).lower(), func.attr
    if "stub" in receiver and name[:1].isupper():
        return "gRPC"
    if (receiver.endswith("urllib.request") or receiver == "httpx") and name in HTTP:
        return "HTTP"
    if name in KAFKA_BLOCKING and receiver.split(".")[-1].endswith(KAFKA_RECEIVERS):
        return "Kafka"
    return None


def _position(call: ast.Call) -> int | None:
    func = call.func
    return KAFKA_BLOCKING.get(func.attr) if isinstance(func, ast.Attribute) and _outbound(call) == "Kafka" else None


def missing_deadlines(source: str) -> list[str]:
    """'line: call' for every outbound call of `source` without a deadline."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and (kind := _outbound(node)) and not _has_timeout(node, _position(node)):
            found.append(f"{node.lineno}: {kind} {_text(node.func)}")
    return found


def test_the_check_sees_calls_without_a_deadline() -> None:
    source = """
async def f(self, stub, producer, consumer):
    await self._stub.GetAccountsSnapshot(request)
    getattr(stub, "Login")(request, metadata=[])
    urllib.request.urlopen(url)
    httpx.get(url)
    producer.flush()
    consumer.consume(500)
    await self._stub.GetAccountsSnapshot(request, timeout=0.5)
    producer.flush(5)
    consumer.get_watermark_offsets(tp, cached=True)
"""
    assert sorted(int(line.split(":")[0]) for line in missing_deadlines(source)) == [3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_outbound_call_has_a_deadline(path: Path) -> None:
    assert missing_deadlines(path.read_text()) == []
