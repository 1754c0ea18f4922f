"""The real Envoy with the generated config in front of a stub upstream (grpc.aio, counting calls and keeping
the metadata it received): public, member and operator RPCs over REST and native gRPC, the token corpus
(reliability.md T1-T8, T11-T13), identity headers, 404s, the internal service, rate limits (L5), error details,
the access log."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from adapters.inbound.rest.transcoding import duplicate_field_answer
from tests.duplicate_fields import DUPLICATES, LOOK_ALIKES
from tests.gateway.conftest import LOGIN_BURST, Gateway
from tests.gateway.harness import (
    BAD_REFRESH_TOKEN,
    LIST_MY_ACCOUNTS,
    LOGIN,
    REFRESH,
    SNAPSHOT,
    STUB_ACCESS_TOKEN,
    Envoy,
    JwksRestStub,
    free_port,
    load_gen_envoy,
)
from tests.integration.test_grpcurl import GRPCURL
from tests.tokens import forged_tokens

gen = load_gen_envoy()
UNAUTHENTICATED, PERMISSION_DENIED = grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED
SUSPEND = "/bank.customer.v1.CustomerService/SuspendCustomer"
USED_TOKENS: list[str] = []  # every token a test sent: none may show up in the access log


@pytest.fixture(scope="module")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.envoy.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def channel(gateway: Gateway) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(gateway.envoy.grpc_target) as ch:
        yield ch


def bearer(token: str) -> dict[str, str]:
    USED_TOKENS.append(token)
    return {"authorization": f"Bearer {token}"}


def grpc_call(channel: grpc.Channel, path: str, token: str | None = None, metadata: tuple = ()) -> grpc.StatusCode:
    md = tuple(metadata) + ((("authorization", f"Bearer {token}"),) if token else ())
    if token:
        USED_TOKENS.append(token)
    try:
        channel.unary_unary(path)(b"", timeout=5, metadata=md)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def b64(data: bytes | dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rest_requests(services: dict[str, list[Any]]) -> list[tuple[Any, str, str]]:
    """(rpc, HTTP method, sample path) for every REST binding of every exposed RPC."""
    out = []
    for name, rpcs in services.items():
        if name in gen.INTERNAL_SERVICES:
            continue
        for rpc in rpcs:
            for b in rpc.bindings:
                out.append((rpc, b.verb, re.sub(r"\{[^}]*\}", "x1", b.template)))
    return out


@pytest.fixture(scope="module")
def services(gateway: Gateway) -> dict[str, list[Any]]:
    return gen.read_services(gateway.envoy.folder / "descriptor.binpb")


# ------------------------------------------------------------------------------------------- public and basics
def test_envoy_started_quickly(gateway: Gateway) -> None:
    print(f"envoy ready in {gateway.envoy.start_seconds:.2f}s")
    assert gateway.envoy.start_seconds < 15  # ~0.2 s on an idle machine; generous for loaded CI runners


def test_rest_login_without_token_reaches_upstream_and_returns_json(gateway: Gateway, http: httpx.Client) -> None:
    before = gateway.upstream.count(LOGIN)
    response = http.post("/v1/login", json={"bankingId": "alice", "password": "correct horse battery"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    # proto3 JSON mapping: lowerCamelCase, int64 as string, defaults printed, enums by name
    assert body["accessToken"] == STUB_ACCESS_TOKEN and body["expiresIn"] == "300"
    assert body["refreshToken"] == "" and body["accounts"] == []
    assert body["accountsState"] == "ACCOUNTS_SNAPSHOT_STATE_FRESH"
    assert gateway.upstream.count(LOGIN) == before + 1
    assert response.headers.get("x-request-id")


def test_healthz_and_well_known_are_public(gateway: Gateway, http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok\n")
    jwks = http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json() == gateway.member.jwks()
    assert http.get("/.well-known/openid-configuration").status_code == 200


# The web page (web/), answered by Envoy itself: path -> (file, content type).
WEB = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app/app.css": ("app.css", "text/css; charset=utf-8"),
    "/app/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
WEB_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


@pytest.mark.parametrize("path", sorted(WEB))
def test_web_page_is_public_with_its_security_headers(gateway: Gateway, http: httpx.Client, path: str) -> None:
    name, content_type = WEB[path]
    before = gateway.upstream.count()
    for headers in ({}, {"authorization": "Bearer not-a-jwt"}):  # no token needed, a bad one is not in the way
        response = http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.content == (gen.ROOT / "web" / name).read_bytes()
        assert response.headers["content-type"] == content_type
        assert response.headers["content-security-policy"] == WEB_CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == ("no-store" if path == "/" else "no-cache")
    assert gateway.upstream.count() == before  # answered by Envoy itself
    # only GET; anything else of web/ or beside it is the catch-all (behind a member token)
    assert http.post(path, json={}).status_code == 404
    for other in ("/index.html", "/app/", "/app/other.js", "/web/app.js", "/app/app.js/x"):
        assert http.get(other).status_code == 401, other


def test_my_accounts_without_token_is_401_and_never_reaches_upstream(gateway: Gateway, http: httpx.Client) -> None:
    before = gateway.upstream.count()
    response = http.get("/v1/my/accounts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="bank"'
    assert gateway.upstream.count() == before


def test_token_in_the_query_string_is_not_a_token(gateway: Gateway, http: httpx.Client) -> None:
    token = gateway.member.token()
    USED_TOKENS.append(token)
    before = gateway.upstream.count()
    response = http.get("/v1/my/accounts", params={"access_token": token})
    assert response.status_code == 401
    assert token not in json.dumps(dict(response.headers)) + response.text  # not echoed back (realm rewritten)
    assert gateway.upstream.count() == before


def test_my_accounts_with_a_valid_token(gateway: Gateway, http: httpx.Client) -> None:
    before = gateway.upstream.count(LIST_MY_ACCOUNTS)
    response = http.get("/v1/my/accounts", headers=bearer(gateway.member.token()))
    assert response.status_code == 200, response.text
    assert response.json()["accounts"] == [
        {"accountNumber": "110-1", "productCode": "SAVINGS", "balance": "1500", "sequence": "3"}
    ]
    assert response.json()["stale"] is False
    assert gateway.upstream.count(LIST_MY_ACCOUNTS) == before + 1
    call = gateway.upstream.calls(LIST_MY_ACCOUNTS)[-1]
    assert call.values("x-customer-id") == ["cust-1"]
    assert call.values("x-member-id") == ["mem-1"] and call.values("x-session-id") == ["sess-1"]
    assert len(call.values("authorization")) == 1  # forwarded: the service verifies the token itself


def test_native_grpc_through_envoy(gateway: Gateway, channel: grpc.Channel) -> None:
    before = gateway.upstream.count(LIST_MY_ACCOUNTS)
    assert grpc_call(channel, LIST_MY_ACCOUNTS) == grpc.StatusCode.UNAUTHENTICATED
    assert gateway.upstream.count(LIST_MY_ACCOUNTS) == before
    assert grpc_call(channel, LIST_MY_ACCOUNTS, gateway.member.token()) == grpc.StatusCode.OK
    assert gateway.upstream.count(LIST_MY_ACCOUNTS) == before + 1
    wrong_aud = gateway.member.token(aud="bank-ops")
    assert grpc_call(channel, LIST_MY_ACCOUNTS, wrong_aud) == grpc.StatusCode.PERMISSION_DENIED


# ----------------------------------------------------------------------------------------------- token corpus
def test_token_corpus_is_refused_over_rest_and_grpc(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel
) -> None:
    """Every token Envoy can judge is refused by Envoy itself (401, or 403 for an audience it does not accept),
    over REST and gRPC, and never reaches a service; the few it cannot judge (typ, header fields, claims the
    services require, size) do reach the upstream: the services refuse them (test_tokens_at_services)."""
    corpus = forged_tokens(gateway.member, gateway.operator)
    failures = []
    for forged in corpus:
        USED_TOKENS.append(forged.token)
        before = gateway.upstream.count()
        response = http.get("/v1/my/accounts", headers=bearer(forged.token))
        code = grpc_call(channel, LIST_MY_ACCOUNTS, forged.token)
        reached = gateway.upstream.count() - before
        if forged.envoy_refuses:
            refused = response.status_code in (401, 403) and code in (UNAUTHENTICATED, PERMISSION_DENIED)
            if not refused or reached:
                failures.append(f"{forged.name}: REST {response.status_code}, gRPC {code.name}, reached {reached}")
        elif reached != 2:
            failures.append(f"{forged.name}: expected to pass the gateway, REST {response.status_code} {code.name}")
    assert failures == []


def test_expiry_inside_the_5s_skew_is_accepted(gateway: Gateway, http: httpx.Client) -> None:
    """T1's documented outcome: `exp` 2 s ago passes (clock_skew_seconds: 5, not Envoy's default 60)."""
    now = int(time.time())
    token = gateway.member.token(iat=now - 100, nbf=now - 100, exp=now - 2)
    assert http.get("/v1/my/accounts", headers=bearer(token)).status_code == 200
    token = gateway.member.token(iat=now - 100, nbf=now - 100, exp=now - 30)
    assert http.get("/v1/my/accounts", headers=bearer(token)).status_code == 401


# ------------------------------------------------------------------------------------------- route coverage
def test_every_rpc_over_rest_and_grpc_needs_its_token_class(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel, services: dict[str, list[Any]]
) -> None:
    """T13 and Z3 at the gateway: without a token only the public allowlist passes; a member token never opens
    an operator RPC nor the reverse; the right token reaches the RPC's upstream, with the identity headers."""
    member_token, operator_token = gateway.member.token(), gateway.operator.token()
    tokens = {"member": member_token, "operator": operator_token}
    for rpc, verb, path in rest_requests(services):
        cls = gen.auth_class(rpc)
        body = {"content": b"{}", "headers": {"content-type": "application/json"}} if verb != "GET" else {}
        for who in (None, "member", "operator"):
            before = gateway.upstream.count(rpc.grpc_path)
            headers = {**body.get("headers", {}), **(bearer(tokens[who]) if who else {})}
            response = http.request(verb, path, headers=headers, content=body.get("content"))
            allowed = cls == "public" or cls == who
            if allowed:
                assert response.status_code in (200, 429), (rpc.full_name, who, response.status_code, response.text)
                reached = response.status_code == 200
                assert gateway.upstream.count(rpc.grpc_path) == before + reached
            else:
                assert response.status_code == 401, (rpc.full_name, who, response.status_code, response.text)
                assert gateway.upstream.count(rpc.grpc_path) == before
            code = grpc_call(channel, rpc.grpc_path, tokens[who] if who else None)
            if allowed:
                assert code in (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED), (rpc.full_name, who, code)
            else:
                assert code == grpc.StatusCode.UNAUTHENTICATED, (rpc.full_name, who, code)
    operator_call = gateway.upstream.calls(SUSPEND)[-1]
    assert operator_call.values("x-operator") == ["ops.alice"] and operator_call.values("x-customer-id") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers/abc/"),  # the transcoder ignores trailing slashes: GetCustomer
        ("GET", "/v1/customers/abc//"),
        ("GET", "/v1/customers/abc:suspend/"),  # GetCustomer of "abc:suspend"
        ("GET", "/v1/customers/abc%3Asuspend"),
        ("POST", "/v1/customers/abc:suspend/"),
        ("POST", "/v1/customers/abc/suspend"),
        ("POST", "/v1/customers//abc:suspend"),
        ("POST", "/v1/customers/:suspend"),
        ("POST", "/v1/%63ustomers/abc:suspend"),
        ("POST", "/v1/x/../customers/abc:suspend"),
        ("GET", "/v1/customers/abc%2F"),
        ("POST", "/bank.customer.v1.CustomerService/SuspendCustomer/"),
        ("POST", "/bank.customer.v1.CustomerService//SuspendCustomer"),
    ],
)
def test_path_spellings_never_open_an_operator_rpc_to_a_member(
    gateway: Gateway, http: httpx.Client, method: str, path: str
) -> None:
    before = gateway.upstream.count()
    headers = {"content-type": "application/json", **bearer(gateway.member.token())}
    response = http.request(method, path, content=b"{}" if method == "POST" else None, headers=headers)
    assert response.status_code in (400, 401, 404), response.text
    assert gateway.upstream.count() == before


def test_identity_headers_from_the_client_are_replaced(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel
) -> None:
    spoofed = {
        "x-customer-id": "victim",
        "x-member-id": "victim-member",
        "x-session-id": "victim-session",
        "x-operator": "root",
        "x-jwt-payload": "e30",
        "x-forwarded-client-cert": "By=spiffe://evil",
    }
    http.get("/v1/my/accounts", headers={**spoofed, **bearer(gateway.member.token())})
    assert grpc_call(channel, LIST_MY_ACCOUNTS, gateway.member.token(), tuple(spoofed.items())) == grpc.StatusCode.OK
    for call in gateway.upstream.calls(LIST_MY_ACCOUNTS)[-2:]:
        assert call.values("x-customer-id") == ["cust-1"]
        assert call.values("x-member-id") == ["mem-1"] and call.values("x-session-id") == ["sess-1"]
        for header in ("x-operator", "x-jwt-payload", "x-forwarded-client-cert"):
            assert call.values(header) == [], header
    # on a public RPC (no token, so no verified identity) they are simply gone
    http.post("/v1/tokens:refresh", json={"refreshToken": "r"}, headers=spoofed)
    call = gateway.upstream.calls(REFRESH)[-1]
    assert all(call.values(header) == [] for header in spoofed)
    # and an underscore spelling cannot slip past the removal
    assert http.get("/v1/my/accounts", headers={"x_customer_id": "victim"}).status_code == 400


# ------------------------------------------------------------------------------------- unknown and internal
def test_unknown_paths(gateway: Gateway, http: httpx.Client, channel: grpc.Channel) -> None:
    token = gateway.member.token()
    before = gateway.upstream.count()
    assert http.get("/nope").status_code == 401  # deny by default comes first
    assert http.get("/nope", headers=bearer(token)).status_code == 404
    assert http.get("/v1/my/accounts/extra", headers=bearer(token)).status_code == 404
    assert http.delete("/v1/my/accounts", headers=bearer(token)).status_code == 404
    unknown_rpc = "/bank.my_accounts.v1.MyAccountsService/DropEverything"
    assert grpc_call(channel, unknown_rpc, token) == grpc.StatusCode.UNIMPLEMENTED
    assert gateway.upstream.count() == before


def test_internal_and_infrastructure_services_are_unreachable(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel
) -> None:
    member, operator = gateway.member.token(), gateway.operator.token()
    # no route: 404 / UNIMPLEMENTED with a member token; anything else fails the deny-by-default rule first
    assert grpc_call(channel, SNAPSHOT, member) == grpc.StatusCode.UNIMPLEMENTED
    assert http.post(SNAPSHOT, json={"customerId": "cust-1"}, headers=bearer(member)).status_code == 404
    assert grpc_call(channel, SNAPSHOT, operator) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_call(channel, SNAPSHOT) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_call(channel, "/grpc.health.v1.Health/Check", member) == grpc.StatusCode.UNIMPLEMENTED
    for path in gen.REFLECTION_PATHS:  # answered by the gateway itself, with or without a token
        assert grpc_call(channel, path, member) == grpc_call(channel, path) == grpc.StatusCode.PERMISSION_DENIED
    assert gateway.upstream.count(SNAPSHOT) == 0


def test_grpcurl_list_through_the_gateway_says_where_reflection_is(gateway: Gateway) -> None:
    """Not "Jwt is missing" (which reads like a login problem): reflection lives on each service's own port, and
    the gateway's descriptor set makes grpcurl work through it."""
    binary = str(GRPCURL) if GRPCURL.exists() else "grpcurl"
    before = gateway.upstream.count()
    listed = subprocess.run(
        [binary, "-plaintext", gateway.envoy.grpc_target, "list"], capture_output=True, text=True, timeout=30
    )
    assert listed.returncode != 0
    assert "PermissionDenied" in listed.stderr and gen.REFLECTION_ANSWER in listed.stderr, listed.stderr
    assert "Jwt" not in listed.stderr
    descriptor = Path(gen.ROOT / "deploy" / "envoy" / "descriptor.binpb")
    with_protoset = subprocess.run(
        [binary, "-plaintext", "-protoset", str(descriptor), gateway.envoy.grpc_target, "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "bank.member.v1.MemberService" in with_protoset.stdout.split(), with_protoset.stderr
    assert gateway.upstream.count() == before  # answered by the gateway itself


# ------------------------------------------------------------------------------------------- size refusals
def _refusal(response: httpx.Response) -> tuple[int, str | None, str]:
    return response.status_code, response.headers.get("www-authenticate"), response.text


def test_an_oversized_credential_is_the_401_of_any_bad_token(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel
) -> None:
    """A well-signed member token over 4 KiB (the services' own limit) is refused by the gateway before any
    upstream call, answered exactly as a garbage token is (status, WWW-Authenticate, body; UNAUTHENTICATED over
    gRPC), on a protected route and on a public one; the answer names no header and no size."""
    big = gateway.member.token(pad="x" * 5000)
    USED_TOKENS.append(big)
    before = gateway.upstream.count()
    garbage = _refusal(http.get("/v1/my/accounts", headers=bearer("not-a-token")))
    assert garbage[0] == 401
    for _ in range(3):  # the same answer every time
        assert _refusal(http.get("/v1/my/accounts", headers=bearer(big))) == garbage
        assert _refusal(http.post("/v1/login", json={}, headers=bearer(big))) == garbage
    try:
        channel.unary_unary(LIST_MY_ACCOUNTS)(b"", timeout=5, metadata=(("authorization", f"Bearer {big}"),))
        raise AssertionError("an oversized credential went through")
    except grpc.RpcError as error:
        assert error.code() == UNAUTHENTICATED
        assert not re.search(r"\d+B|authorization|size|limit", error.details() or "", re.IGNORECASE), error.details()
    assert gateway.upstream.count() == before


def test_every_bad_token_gets_the_same_401(gateway: Gateway, http: httpx.Client) -> None:
    """jwt_authn tells no prober which forgery came closest: one body and one WWW-Authenticate for all."""
    answers = set()
    for forged in forged_tokens(gateway.member, gateway.operator):
        USED_TOKENS.append(forged.token)
        response = http.get("/v1/my/accounts", headers=bearer(forged.token))
        if response.status_code == 401:
            answers.add(_refusal(response))
    answers.add(_refusal(http.get("/v1/my/accounts")))  # no token at all
    assert len(answers) == 1, answers


def test_an_overlong_path_is_400_every_time_before_any_rate_limit(gateway: Gateway, http: httpx.Client) -> None:
    """A 10,000-character account number: 400 INVALID_ARGUMENT every time, from the gateway itself, even past the
    login route's token bucket (3 x its burst in a row, none 429); nothing reaches an upstream."""
    token = gateway.member.token()
    before = gateway.upstream.count()
    answers = [http.get("/v1/accounts/" + "1" * 10_000, headers=bearer(token)) for _ in range(3)]
    answers += [http.post("/v1/login?x=" + "1" * 10_000, json={}) for _ in range(3 * LOGIN_BURST)]
    assert {r.status_code for r in answers} == {400}
    assert {r.json()["code"] for r in answers} == {3}  # INVALID_ARGUMENT, as the transcoder writes a refusal
    assert len({r.text for r in answers}) == 1
    assert gateway.upstream.count() == before
    _wait_for_login(http)


def test_header_sets_over_the_limit_never_reach_a_service(
    gateway: Gateway, http: httpx.Client, channel: grpc.Channel
) -> None:
    """Headers over 16 KiB are refused by Envoy itself (431 over REST, a refused stream over gRPC), every time and
    naming nothing; under it, what Envoy forwards (its own headers added) stays below the services' own limit
    of 32 KiB, so no service ever answers RESOURCE_EXHAUSTED with a list of header names and sizes."""
    token = gateway.member.token()
    before = gateway.upstream.count()
    for _ in range(3):
        response = http.get("/v1/my/accounts", headers={**bearer(token), "x-junk": "j" * 20_000})
        assert response.status_code == 431
        assert "x-junk" not in response.text and "authorization" not in response.text
        try:
            channel.unary_unary(LIST_MY_ACCOUNTS)(b"", timeout=5, metadata=(("x-junk", "j" * 20_000),))
            raise AssertionError("20 KB of headers went through")
        except grpc.RpcError as error:
            assert error.code() != grpc.StatusCode.OK
            assert "x-junk" not in (error.details() or ""), error.details()
    assert gateway.upstream.count() == before
    response = http.get("/v1/my/accounts", headers={**bearer(token), "x-junk": "j" * 15_000})
    assert response.status_code == 200, response.text
    assert gateway.upstream.count() == before + 1


DEPOSIT = "/bank.account.v1.AccountService/Deposit"


@pytest.mark.parametrize("raw", [raw for _, raw in DUPLICATES], ids=[name for name, _ in DUPLICATES])
def test_a_body_naming_a_field_twice_is_refused_by_the_gateway(
    gateway: Gateway, http: httpx.Client, raw: bytes
) -> None:
    """Before the transcoder (which keeps the last value), with the services' REST adapter's very answer."""
    before = gateway.upstream.count()
    headers = {**bearer(gateway.member.token()), "content-type": "application/json"}
    response = http.post("/v1/accounts/110123:deposit", content=raw, headers=headers)
    assert (response.status_code, response.text) == duplicate_field_answer()
    assert gateway.upstream.count() == before


@pytest.mark.parametrize("raw", [raw for _, raw in LOOK_ALIKES], ids=[name for name, _ in LOOK_ALIKES])
def test_a_body_naming_each_field_once_goes_through(gateway: Gateway, http: httpx.Client, raw: bytes) -> None:
    before = gateway.upstream.count(DEPOSIT)
    headers = {**bearer(gateway.member.token()), "content-type": "application/json"}
    response = http.post("/v1/accounts/110123:deposit", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert gateway.upstream.count(DEPOSIT) == before + 1


# ------------------------------------------------------------------------------------------ errors and limits
def test_error_details_reach_the_rest_body(gateway: Gateway, http: httpx.Client) -> None:
    response = http.post("/v1/tokens:refresh", json={"refreshToken": BAD_REFRESH_TOKEN})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3 and body["message"] == "bad request"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert body["details"][0]["fieldViolations"][0]["field"] == "refresh_token"


def test_query_and_body_cannot_override_the_path(gateway: Gateway, http: httpx.Client) -> None:
    from bank.account.v1 import account_service_pb2

    token = gateway.member.token()
    before = gateway.upstream.count()
    assert http.get("/v1/my/accounts?isAdmin=true", headers=bearer(token)).status_code == 400  # unknown
    for name in ("accountNumber", "account_number"):  # the transcoder would let the query win over the path
        response = http.get(f"/v1/accounts/a1?{name}=a2", headers=bearer(token))
        assert response.status_code == 400, response.text
    assert gateway.upstream.count() == before
    deposit = "/bank.account.v1.AccountService/Deposit"
    conflict = http.post("/v1/accounts/a1:deposit", json={"account_number": "a2", "amount": "5"}, headers=bearer(token))
    assert conflict.status_code == 400  # reject_binding_body_field_collisions
    assert gateway.upstream.count() == before
    # with the JSON name the collision check does not fire, but the path still wins
    response = http.post("/v1/accounts/a1:deposit", json={"accountNumber": "a2", "amount": "5"}, headers=bearer(token))
    assert response.status_code == 200
    sent = account_service_pb2.DepositRequest.FromString(gateway.upstream.calls(deposit)[-1].request)
    assert (sent.account_number, sent.amount) == ("a1", 5)


def _wait_for_login(http: httpx.Client) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if http.post("/v1/login", json={}).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the login bucket did not refill")


def test_login_rate_limit_over_rest(gateway: Gateway, http: httpx.Client) -> None:
    _wait_for_login(http)
    before = gateway.upstream.count(LOGIN)
    answers = [http.post("/v1/login", json={}) for _ in range(3 * LOGIN_BURST)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    assert all(r.headers.get("retry-after") == "1" for r in limited)
    assert all(r.status_code in (200, 429) for r in answers)
    assert "retry-after" not in next(r for r in answers if r.status_code == 200).headers
    assert gateway.upstream.count(LOGIN) - before == len(answers) - len(limited)
    # only Login has this bucket: other RPCs go on
    token = gateway.member.token()
    assert all(http.get("/v1/my/accounts", headers=bearer(token)).status_code == 200 for _ in range(LOGIN_BURST))
    _wait_for_login(http)


def test_login_rate_limit_over_grpc_is_resource_exhausted(gateway: Gateway, channel: grpc.Channel) -> None:
    codes = []
    trailers: list[Any] = []
    for _ in range(3 * LOGIN_BURST):
        try:
            channel.unary_unary(LOGIN)(b"", timeout=5)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
            trailers.append(dict(error.trailing_metadata() or ()))
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes, codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}  # never UNAVAILABLE
    assert all(t.get("retry-after") == "1" for t in trailers)


# --------------------------------------------------------------------------------------------------- logging
def test_access_log_is_json_without_tokens_or_queries(gateway: Gateway, http: httpx.Client) -> None:
    token = gateway.member.token()
    USED_TOKENS.append(token)
    marker = http.get(f"/v1/my/accounts?access_token={token}&min_sequence=1")
    request_id = marker.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["request_id"] == request_id for e in gateway.envoy.access_log()):
        time.sleep(0.05)
    entries = gateway.envoy.access_log()
    entry = next(e for e in entries if e["request_id"] == request_id)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v1/my/accounts", 401)
    transcoded = next(e for e in entries if e["path"] == "/v1/login" and e["status"] == 200)
    assert transcoded["rpc"] == LOGIN and transcoded["upstream_cluster"] == "member"
    assert transcoded["grpc_status"] == "OK" and isinstance(transcoded["duration_ms"], int)
    log = gateway.envoy.logs()
    leaked = [t[:16] for t in USED_TOKENS if t and t.split(".")[0] and t in log]
    assert leaked == []
    access_lines = "\n".join(line for line in log.splitlines() if line.startswith("{"))
    assert "access_token" not in access_lines and "authorization" not in access_lines.lower()
    assert all("?" not in (e["path"] or "") + (e["rpc"] or "") for e in entries)


# ------------------------------------------------------------------------------------------- other renders
def test_second_jwt_layer_catches_a_rest_rule_that_misses(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With REST rules that forget the transcoder ignores trailing slashes (a generator bug), the
    post-transcoding check on the gRPC path still refuses a member token on an operator RPC."""
    naive = gen.template_regex
    monkeypatch.setattr(gen, "template_regex", lambda template: naive(template).replace("/*$", "$"))
    envoy = Envoy(tmp_path, dict(gateway.envoy.env))
    config = gen.write(gen.Settings.from_env(envoy.full_env), tmp_path)
    assert "/*$" not in config.read_text()
    envoy.start(config=config)
    get_customer = "/bank.customer.v1.CustomerService/GetCustomer"
    try:
        with httpx.Client(base_url=envoy.url, timeout=10) as client:
            before = gateway.upstream.count(get_customer)
            member = client.get("/v1/customers/abc/", headers=bearer(gateway.member.token()))
            assert member.status_code == 401
            assert gateway.upstream.count(get_customer) == before
        # the spelling is real: with the generated rules an operator reaches GetCustomer through it
        with httpx.Client(base_url=gateway.envoy.url, timeout=10) as client:
            operator = client.get("/v1/customers/abc/", headers=bearer(gateway.operator.token()))
            assert operator.status_code == 200
            assert gateway.upstream.count(get_customer) == before + 1
    finally:
        envoy.stop()


def test_remote_jwks_is_fetched_in_the_background(gateway: Gateway, tmp_path: Path) -> None:
    """Default member provider: remote JWKS from the member service's REST port. Envoy starts without it
    (401 meanwhile) and accepts tokens once the keys can be fetched (failed fetches retried every second)."""
    rest_port = free_port()
    env = {k: v for k, v in gateway.envoy.env.items() if k != "MEMBER_JWKS_FILE"}
    env["GATEWAY_MEMBER_KEYS_ADDR"] = f"127.0.0.1:{rest_port}"
    envoy = Envoy(tmp_path, env)
    envoy.start()
    rest = JwksRestStub(gateway.member.jwks(), port=rest_port)
    try:
        with httpx.Client(base_url=envoy.url, timeout=10) as client:
            token = gateway.member.token()
            assert client.get("/v1/my/accounts", headers=bearer(token)).status_code == 401
            rest.start()
            deadline, status = time.monotonic() + 10, 0
            while time.monotonic() < deadline and status != 200:
                status = client.get("/v1/my/accounts", headers=bearer(token)).status_code
                time.sleep(0.1)
            assert status == 200
            assert client.get("/.well-known/jwks.json").json() == gateway.member.jwks()
    finally:
        envoy.stop()
        rest.stop()


def test_global_bucket_limits_every_route(gateway: Gateway, tmp_path: Path) -> None:
    """L2/L5: the gateway-wide bucket sheds with 429 + Retry-After (REST) and RESOURCE_EXHAUSTED (gRPC)."""
    env = {**gateway.envoy.env, "GATEWAY_GLOBAL_RPS": "1", "GATEWAY_GLOBAL_BURST": "3"}
    envoy = Envoy(tmp_path, env)
    envoy.start()
    try:
        with httpx.Client(base_url=envoy.url, timeout=10) as client:
            answers = [client.get("/openapi.json") for _ in range(10)]
            # the probes' path is never limited (a flood must not take the gateway out of its Service)
            health = [client.get("/healthz").status_code for _ in range(10)]
        assert [r.status_code for r in answers].count(429) >= 5
        assert all(r.headers["retry-after"] == "1" for r in answers if r.status_code == 429)
        assert health == [200] * 10
        with grpc.insecure_channel(envoy.grpc_target) as ch:
            codes = {grpc_call(ch, LIST_MY_ACCOUNTS, gateway.member.token()) for _ in range(5)}
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.UNAVAILABLE not in codes
    finally:
        envoy.stop()
