"""schemathesis over the OpenAPI document the gateway serves (deploy/envoy/openapi.json), through Envoy, with
a valid token of the class each operation needs (x-bank-auth: operator, member, or none for the public ones):
generated requests, valid and invalid, get no server error and answers that conform to the document (status
codes, content types, response schemas). SCHEMATHESIS_EXAMPLES per operation (default 10; the coverage
phase comes on top)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import Fixtures
from tests.openapi import OPENAPI_FILE, operations
from tests.reliability.report import put

pytestmark = pytest.mark.kafka
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
AUTH = {op.operation_id: op.auth for op in operations()}
CASES: dict[str, int] = {}


LOCAL_REPLIES: dict[str, int] = {}


def _local_reply(response, count: bool = True) -> bool:  # type: ignore[no-untyped-def]
    """Envoy's own refusals before any upstream: jwt_authn's 401 (no body) and the transcoder's 400s
    ("Root element must be a message.", "Could not find field ...", or an empty body for JSON it cannot read)
    come in text/plain or with no content type, which the document (generated from the protos, where every
    answer is JSON) cannot describe. Counted in the report."""
    content_type = response.headers.get("content-type") or response.headers.get("Content-Type") or ""
    content_type = (content_type[0] if content_type else "") if isinstance(content_type, list) else content_type
    if not 400 <= response.status_code < 500 or content_type.startswith("application/json"):
        return False
    key = f"{response.status_code} {'text/plain' if response.text.strip() else 'empty body'}"
    if count:
        LOCAL_REPLIES[key] = LOCAL_REPLIES.get(key, 0) + 1
    return True


def json_content_type(ctx, response, case):  # type: ignore[no-untyped-def]
    """content_type_conformance, except for Envoy's local replies (above)."""
    return True if _local_reply(response) else content_type_conformance(ctx, response, case)


def json_schema(ctx, response, case):  # type: ignore[no-untyped-def]
    """response_schema_conformance, except for Envoy's local replies (not JSON, so no schema to meet)."""
    return True if _local_reply(response, count=False) else response_schema_conformance(ctx, response, case)


# What the document can promise. Left out on purpose: negative_data_rejection and positive_data_acceptance (the
# document has no constraints beyond types: an empty body is the empty message, a well-typed id may be unknown),
# unsupported_method (jwt_authn answers 401 before route matching decides 405 on a protected path), ignored_auth
# (the token here is a plain header schemathesis does not strip; tests/integration/test_tokens_at_services.py and
# tests/gateway refuse every call without a token, at each service and at Envoy).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    json_content_type,
    response_headers_conformance,
    json_schema,
    missing_required_header,
]


# Loaded eagerly: schemathesis.pytest.from_fixture (the lazy loader) sets `node._nodeid`, which pytest 9 no
# longer has; the base URL (Envoy's, known once the system runs) is given per call instead.
schema = schemathesis.openapi.from_path(OPENAPI_FILE)


@pytest.fixture(scope="module", autouse=True)
def _report() -> object:
    yield
    if CASES:
        put(
            "schemathesis",
            f"schemathesis through Envoy: {sum(CASES.values())} cases over {len(CASES)} operations, 0 failures;"
            f" Envoy's text/plain local replies: {dict(sorted(LOCAL_REPLIES.items()))}",
            "fuzz",
        )


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_gateway_api_conforms_to_its_document(case: schemathesis.Case, fixtures: Fixtures) -> None:
    auth = AUTH[case.operation.definition.raw["operationId"]]
    operation_id = case.operation.definition.raw["operationId"]
    if operation_id == "MemberService_Logout":  # a session of its own (then refused once logged out)
        token: str | None = fixtures.logout_session
    elif operation_id == "MemberService_ChangePassword":  # wrong passwords count towards a lockout
        token = fixtures.password_token
    else:
        token = {"operator": fixtures.operator, "member": fixtures.access_token}.get(auth)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    CASES[case.operation.label] = CASES.get(case.operation.label, 0) + 1
    case.call_and_validate(base_url=fixtures.system.envoy.url, headers=headers, checks=CHECKS, timeout=10)
