"""Junk below the message level, at every server's own ports: raw bytes at each gRPC method (random bytes,
wrong wire types, invalid UTF-8 in a string field, truncated varints and lengths, a message over the 4 MiB
receive limit, unknown groups nested far deeper than any parser recurses) and raw bodies at each REST route
(not JSON, JSON over the 64 KiB limit, JSON nested deep enough to exhaust a recursive parser, every wrong JSON
type for every field, duplicate keys, odd content types, bad query values). Whatever cannot be decoded is
INVALID_ARGUMENT / 400 (RESOURCE_EXHAUSTED / 4xx for oversized); nothing is a fault; every server still
serves afterwards."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.descriptor_pool import Default as default_pool
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fuzz.world import FORBIDDEN_CODES, SNAPSHOT, VIEW_ADMIN, Fixtures, leaks, rest_answer
from tests.reliability.report import put

pytestmark = pytest.mark.kafka
MAX_RECEIVE = 4 * 1024 * 1024  # grpcio's default max receive message length, which the servers keep
COUNTS: dict[str, int] = {"grpc": 0, "undecodable": 0, "rest": 0}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def grpc_junk(seed: int = 7) -> Iterator[tuple[str, bytes, bool]]:
    """(what, payload, must be refused as undecodable whatever the message type)."""
    rng = random.Random(seed)
    for n in range(40):
        yield f"random bytes #{n}", rng.randbytes(rng.randint(1, 200)), False
    for number in (1, 2, 3):
        yield f"field {number} varint", _tag(number, 0) + b"\x01", False
        yield f"field {number} fixed64", _tag(number, 1) + b"\x00" * 8, False
        yield f"field {number} fixed32", _tag(number, 5) + b"\x00" * 4, False
        yield f"field {number} bytes", _tag(number, 2) + b"\x03abc", False
        yield f"field {number} invalid UTF-8", _tag(number, 2) + b"\x04\xff\xfe\xc0\x80", False
        yield f"field {number} lone surrogate", _tag(number, 2) + b"\x03\xed\xa0\x80", False
        yield f"field {number} length past the end", _tag(number, 2) + b"\x10abc", True
        yield f"field {number} truncated varint", _tag(number, 0) + b"\xff\xff", True
        yield f"field {number} varint of 11 bytes", _tag(number, 0) + b"\xff" * 10 + b"\x01", True
        yield f"field {number} end group unopened", _tag(number, 4), True
        yield f"field {number} wire type 6", _tag(number, 6), True
    yield "field number 0", b"\x00\x01", False  # upb skips it as an unknown field
    yield "truncated tag", b"\x80", True
    yield "negative length", _tag(1, 2) + b"\xff\xff\xff\xff\x0f", True
    depth = 100_000
    yield f"unknown groups nested {depth} deep", _tag(99, 3) * depth + _tag(99, 4) * depth, True
    yield "unknown length-delimited field of 1 MiB", _tag(99, 2) + _varint(2**20) + b"\x00" * 2**20, False


def _decodes(rpc: str, payload: bytes) -> bool:
    service, method = rpc.split("/")
    request = GetMessageClass(default_pool().FindServiceByName(service).methods_by_name[method].input_type)
    try:
        request.FromString(payload)
        return True
    except (DecodeError, RuntimeError, ValueError):
        return False


def _methods(fixtures: Fixtures) -> list[tuple[str, str, str | None]]:
    """(server, rpc, token) for every unary RPC of every server's ports."""
    op, member = fixtures.operator, fixtures.access_token
    found = []
    for server, services in {
        "customer": ["bank.customer.v1.CustomerService", "bank.ops.v1.OutboxService"],
        "member": ["bank.member.v1.MemberService", "bank.ops.v1.OutboxService"],
        "account": ["bank.account.v1.AccountService", "bank.ops.v1.OutboxService"],
        "my_accounts": ["bank.my_accounts.v1.MyAccountsService"],
        # one port, two callers (mutual TLS): the member service's snapshot, the operator's view admin
        "my_accounts_internal": [SNAPSHOT.split("/")[0]],
        "my_accounts_admin": [VIEW_ADMIN.split("/")[0]],
    }.items():
        for service in services:
            for method in default_pool().FindServiceByName(service).methods:
                rpc = f"{service}/{method.name}"
                operator_only = service.startswith(("bank.customer", "bank.ops")) or rpc == VIEW_ADMIN
                operator_only |= method.name in ("EnrollMember", "UnlockMember")
                found.append((server, rpc, op if operator_only else member))
    return found


def _serving(fixtures: Fixtures) -> None:
    for name, service in fixtures.system.services.items():
        with grpc.insecure_channel(service.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.SERVING, name
        assert httpx.get(service.rest_url + "/v1/no-such-route", timeout=5).status_code == 404, name
    fixtures.balances()  # and a real call still works


def test_grpc_junk_is_refused_as_invalid_and_every_server_keeps_serving(fixtures: Fixtures) -> None:
    failures = []
    cases = list(grpc_junk())
    for server, rpc, token in _methods(fixtures):
        for what, payload, undecodable in cases:
            if rpc.endswith("/Logout"):  # a session of its own: the first junk that decodes logs it out
                token = fixtures.logout_session
            answer = fixtures.grpc[server].call(rpc, payload, token, timeout=10)
            COUNTS["grpc"] += 1
            decodes = _decodes(rpc, payload)
            COUNTS["undecodable"] += not decodes
            if answer.code in FORBIDDEN_CODES or leaks(answer.message, []):
                failures.append(f"{server} {rpc} {what}: {answer.code} {answer.message[:200]!r}")
            elif not decodes and answer.code != "INVALID_ARGUMENT":
                failures.append(f"{server} {rpc} {what}: {answer.code}, not INVALID_ARGUMENT")
            elif undecodable and decodes:
                failures.append(f"{server} {rpc} {what}: the parser took it (the case is wrong)")
        # over the receive limit: refused by the transport before any decoding
        answer = fixtures.grpc[server].call(rpc, b"\x0a" + _varint(MAX_RECEIVE) + b"x" * MAX_RECEIVE, token)
        COUNTS["grpc"] += 1
        if answer.code != "RESOURCE_EXHAUSTED":
            failures.append(f"{server} {rpc} 4 MiB + 5 bytes: {answer.code} {answer.message[:200]!r}")
    assert failures == [], "\n".join(failures[:30])
    _serving(fixtures)


def _rest_bodies(fields: dict[str, FieldDescriptor]) -> Iterator[tuple[str, bytes, str]]:
    """(what, body, content type) for a route whose body is the request message."""
    yield "not JSON", b"not json", "application/json"
    yield "invalid UTF-8", b'{"a": "\xff\xfe"}', "application/json"
    yield "a JSON array", b"[1, 2]", "application/json"
    yield "a JSON string", b'"text"', "application/json"
    yield "JSON null", b"null", "application/json"
    yield "a number too large for a float", b'{"x": 1e999999}', "application/json"
    yield "truncated JSON", b'{"a": ', "application/json"
    yield "NaN", b'{"x": NaN}', "application/json"
    yield "70 KiB JSON (over the 64 KiB limit)", json.dumps({"x": "y" * 70_000}).encode(), "application/json"
    yield "arrays nested 30,000 deep", b"[" * 30_000 + b"]" * 30_000, "application/json"
    yield "objects nested 10,000 deep", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"
    yield "text/plain", b"{}", "text/plain"
    yield "XML", b"<a/>", "application/xml"
    yield "unknown field", b'{"isAdmin": true}', "application/json"
    for name, field in fields.items():
        for value in ("abc", 1.5, 1e30, -(2**70), True, None, [], {}, [1, 2], {"a": 1}, "\u0000", "9" * 30):
            document = json.dumps({field.json_name: value}).encode()
            yield f"{name} = {json.dumps(value)}", document, "application/json"
        yield (
            f"{name} nested 5,000 deep",
            b'{"%s":' % field.json_name.encode() + b"[" * 5000 + b"]" * 5000 + b"}",
            ("application/json"),
        )
        yield f"{name} given twice", b'{"%s": "a", "%s": "b"}' % ((field.json_name.encode(),) * 2), "application/json"


def _rest_queries(fields: dict[str, FieldDescriptor]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    yield "unknown parameter", [("isAdmin", "true")]
    for name, field in fields.items():
        for value in ("abc", "1.5", "1e30", "99999999999999999999999", "-", "\x00", "", "true", "x" * 10_000):
            yield f"{name}={value[:20]}", [(field.json_name, value)]
        yield f"{name} twice", [(field.json_name, "1"), (field.json_name, "2")]


def test_rest_junk_is_refused_with_a_4xx_and_every_server_keeps_serving(fixtures: Fixtures) -> None:
    failures = []
    client = httpx.Client(timeout=10)
    try:
        for rpc, operation in fixtures.rest.operations.items():
            token = fixtures.operator if operation.auth == "operator" else fixtures.access_token
            headers = {"authorization": f"Bearer {token}"}
            base = fixtures.rest.base_urls[rpc.split("/")[0]]
            url = base + operation.url(**dict.fromkeys(operation.path_params, fixtures.accounts[0]))
            service, method = rpc.split("/")
            fields = dict(default_pool().FindServiceByName(service).methods_by_name[method].input_type.fields_by_name)
            fields = {n: f for n, f in fields.items() if f.json_name not in operation.path_params}
            if operation.method == "GET":
                attempts = [(what, {"params": query, "headers": headers}) for what, query in _rest_queries(fields)]
            else:
                attempts = [
                    (what, {"content": body, "headers": {**headers, "content-type": ctype}})
                    for what, body, ctype in _rest_bodies(fields)
                ]
            for what, kwargs in attempts:
                answer = rest_answer(client.request(operation.method, url, **kwargs))
                COUNTS["rest"] += 1
                status = answer.http_status or 0
                if status >= 500 or answer.code in FORBIDDEN_CODES or leaks(answer.message, []):
                    failures.append(f"{rpc} {what}: {status} {answer.code} {answer.message[:200]!r}")
    finally:
        client.close()
    assert failures == [], "\n".join(failures[:30])
    _serving(fixtures)


def test_report_junk_counts() -> None:
    put(
        "wire junk:",
        f"wire junk: {COUNTS['grpc']} gRPC payloads ({COUNTS['undecodable']} undecodable: all INVALID_ARGUMENT; the"
        f" oversized: RESOURCE_EXHAUSTED), {COUNTS['rest']} REST requests (all 4xx), 0 faults",
        "fuzz",
    )
