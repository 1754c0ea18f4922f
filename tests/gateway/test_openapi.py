"""The OpenAPI document (deploy/envoy/openapi.json, scripts/gen_openapi.py): served by Envoy itself without a
token, byte for byte the committed file; it has exactly the REST bindings of the public services (none of an
internal one) with their methods and paths; exactly the gateway's public RPCs carry no security requirement,
and the gateway agrees (without a token: 401 on every other operation, never on the public ones)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.harness import load_gen_envoy
from tests.openapi import OPENAPI_FILE, Operation, load_openapi, operations

gen = load_gen_envoy()
# The explicit public allowlist, as in test_envoy_config.py: widening it is a security decision.
EXPECTED_PUBLIC = {"bank.member.v1.MemberService/Login", "bank.member.v1.MemberService/RefreshToken"}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """The contracts as the gateway's generator reads them (a fresh descriptor, not the committed one)."""
    descriptor: Path = tmp_path_factory.mktemp("openapi") / "descriptor.binpb"
    gen.build_descriptor(descriptor)
    return gen.read_services(descriptor)


@pytest.fixture(scope="module")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.envoy.url, timeout=10) as client:
        yield client


def json_path(template: str) -> str:
    """A google.api.http template as the document spells it: variables by their JSON (lowerCamelCase) names."""
    return re.sub(r"\{([^}=]+)(=[^}]*)?\}", lambda m: "{" + gen._camel(m.group(1)) + "}", template)


def test_served_by_the_gateway_without_a_token(gateway: Gateway, http: httpx.Client) -> None:
    before = gateway.upstream.count()
    response = http.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == OPENAPI_FILE.read_bytes()
    assert response.json() == load_openapi()
    assert gateway.upstream.count() == before  # answered by Envoy itself
    # a token is not needed, and a bad one does not get in the way
    assert http.get("/openapi.json", headers={"authorization": "Bearer not-a-jwt"}).status_code == 200
    # only GET is served; another method is the catch-all's 404 (still no token needed to learn that)
    assert http.post("/openapi.json", json={}).status_code == 404


def test_every_rest_binding_of_every_public_service_is_an_operation(services: dict[str, list[Any]]) -> None:
    expected = {
        (rpc.full_name, binding.verb, json_path(binding.template))
        for rpc in gen.public_rpcs(services)
        for binding in rpc.bindings
    }
    assert expected, "the contracts have no REST binding at all?"
    found = [(op.rpc, op.method, op.path) for op in operations()]
    assert len(found) == len(set(found))
    assert set(found) == expected


def test_path_parameters_are_declared() -> None:
    doc = load_openapi()
    for op in operations():
        declared = [p for p in doc["paths"][op.path][op.method.lower()]["parameters"] if p["in"] == "path"]
        assert sorted(p["name"] for p in declared) == sorted(op.path_params), op
        assert all(p["required"] for p in declared), op
        assert "{" not in op.url(), op


def test_no_internal_service_appears(services: dict[str, list[Any]]) -> None:
    doc, text = load_openapi(), OPENAPI_FILE.read_text(encoding="utf-8")
    assert gen.INTERNAL_SERVICES and all(s in services for s in gen.INTERNAL_SERVICES)  # the contracts have them
    for internal in gen.INTERNAL_SERVICES:
        assert internal.rsplit(".", 1)[-1] not in text, internal
        for rpc in services[internal]:
            assert f"{internal.rsplit('.', 1)[-1]}_{rpc.method}" not in text
    assert {tag["name"] for tag in doc["tags"]} == {s for s in services if s not in gen.INTERNAL_SERVICES}
    assert {op.rpc.split("/")[0] for op in operations()} <= set(gen.UPSTREAMS)


def test_exactly_the_public_methods_carry_no_security_requirement(services: dict[str, list[Any]]) -> None:
    doc = load_openapi()
    assert doc["securityDefinitions"] == {
        "bearer": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": doc["securityDefinitions"]["bearer"]["description"],
        }
    }
    assert "security" not in doc  # every operation says it itself
    assert set(gen.PUBLIC_METHODS) == EXPECTED_PUBLIC
    rpcs = {rpc.full_name: rpc for rpc in gen.public_rpcs(services)}
    ops = operations()
    assert {op.rpc for op in ops if op.public} == EXPECTED_PUBLIC
    for op in ops:
        raw = doc["paths"][op.path][op.method.lower()]
        if op.rpc in gen.PUBLIC_METHODS:
            assert raw["security"] == [] and op.public and op.auth == "public", op
        else:
            assert raw["security"] == [{"bearer": []}] and not op.public, op
        assert op.auth == gen.auth_class(rpcs[op.rpc]), op
        operator_only = "Operator only" in raw.get("description", "")
        assert operator_only == (op.auth == "operator"), op


def test_the_gateway_agrees_with_the_document(gateway: Gateway, http: httpx.Client) -> None:
    """Without a token: every operation with a security requirement is a 401 from Envoy (never reaching the
    upstream); the public ones get through."""
    ops: list[Operation] = operations()
    for op in ops:
        before = gateway.upstream.count(op.grpc_path)
        response = http.request(op.method, op.url(), json={} if op.method in ("POST", "PUT", "PATCH") else None)
        if op.public:
            assert response.status_code not in (401, 403), (op, response.status_code, response.text)
            if response.status_code != 429:  # the login bucket may be empty after the rate-limit tests
                assert gateway.upstream.count(op.grpc_path) == before + 1, op
        else:
            assert response.status_code == 401, (op, response.status_code, response.text)
            assert gateway.upstream.count(op.grpc_path) == before, op
