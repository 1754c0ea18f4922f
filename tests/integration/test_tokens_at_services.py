"""Every service checks tokens itself, whatever stands in front of it (reliability.md T1-T8, T13): the forged
token corpus (tests/tokens.py, signed where it matters with the system's real keys) is refused by each
service called directly, over gRPC and over its REST adapter, and through the gateway; and every RPC of the
contracts, called with no token, is refused unless it is on the public list."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.outbound.security.signing_keys import load_or_create_signing_keys
from tests.gateway.harness import Signer
from tests.integration.full_system import OWNER, FullSystem, GrpcWay, Outcome, RestWay
from tests.integration.test_member_service import PASSWORD, eventually
from tests.openapi import operations
from tests.operator import operator_keys, operator_token
from tests.tokens import Forged, forged_tokens

pytestmark = pytest.mark.kafka
REFUSED = ("UNAUTHENTICATED", "PERMISSION_DENIED")
LOGIN, REFRESH = "bank.member.v1.MemberService/Login", "bank.member.v1.MemberService/RefreshToken"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=="))


class Setup:
    """The system, an operator, and a customer whose member is logged in; signers with the real keys."""

    def __init__(self, system: FullSystem) -> None:
        self.system = system
        var_dir = Path(system.var_dir)
        self.operator = operator_token(var_dir)
        grpc_way = system.direct_grpc()
        self.customer_id = grpc_way.call(
            "bank.customer.v1.CustomerService/RegisterCustomer", {"name": "Lee"}, self.operator
        ).body["customer"]["customerId"]
        enroll = {"customerId": self.customer_id, "bankingId": "forged-target", "password": PASSWORD}
        for _ in range(150):  # the member service learns of the customer from Kafka
            enrolled = grpc_way.call("bank.member.v1.MemberService/EnrollMember", enroll, self.operator)
            if enrolled.code != "FAILED_PRECONDITION":
                break
        assert enrolled.code == "OK", enrolled.body
        self.member_id = enrolled.body["member"]["memberId"]
        login = {"bankingId": "forged-target", "password": PASSWORD}
        self.access_token = grpc_way.call("bank.member.v1.MemberService/Login", login, None).body["accessToken"]
        # A session logged out: its token is well signed and in date, but revoked (only services know).
        second = grpc_way.call("bank.member.v1.MemberService/Login", login, None).body["accessToken"]
        assert grpc_way.call("bank.member.v1.MemberService/Logout", {}, second).code == "OK"
        self.revoked = second
        grpc_way.close()

        member_key = load_or_create_signing_keys(var_dir / "keys" / "member").current
        member_claims = {k: v for k, v in claims_of(self.access_token).items() if k in ("sub", "member_id", "sid")}
        self.member = Signer("bank-member", "bank-api", member_claims, member_key.kid, member_key.private_key)
        operator_key = operator_keys(var_dir).current
        operator_claims = {k: v for k, v in claims_of(self.operator).items() if k in ("sub", "scope")}
        self.operator_signer = Signer(
            "bank-operator", "bank-ops", operator_claims, operator_key.kid, operator_key.private_key
        )

    def targets(self) -> list[tuple[str, dict[str, Any], str]]:
        """(RPC, request, token class): one protected RPC of each kind on each service."""
        return [
            ("bank.customer.v1.CustomerService/GetCustomer", {"customerId": self.customer_id}, "operator"),
            ("bank.member.v1.MemberService/UnlockMember", {"memberId": self.member_id}, "operator"),
            ("bank.member.v1.MemberService/ChangePassword", {"currentPassword": "x", "newPassword": "y"}, "member"),
            ("bank.account.v1.AccountService/GetAccount", {"accountNumber": "1100000000000"}, "member"),
            ("bank.my_accounts.v1.MyAccountsService/ListMyAccounts", {}, "member"),
        ]


@pytest.fixture
def setup(service_factory, tmp_path: Path) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    system = FullSystem(service_factory, tmp_path / "gateway")
    try:
        yield Setup(system)
    finally:
        system.stop()


def _ways(system: FullSystem) -> list[GrpcWay | RestWay]:
    return [system.direct_grpc(), system.direct_rest(), system.gateway_rest(), system.gateway_grpc()]


def _is_refusal(outcome: Outcome) -> bool:
    return outcome.code in REFUSED or outcome.http_status in (401, 403)


def test_the_corpus_is_refused_by_every_service_directly_and_through_the_gateway(setup: Setup) -> None:
    corpora = {
        "member": forged_tokens(setup.member, setup.operator_signer),
        "operator": forged_tokens(setup.operator_signer, setup.member),
    }
    # Where sessions are tracked, a logged-out session's token is refused too: at the member service at once,
    # at the view once it has read the SessionsRevoked event. (The account service does not track sessions:
    # it accepts such a token until it expires, at most 5 minutes; it does refuse a terminated customer.)
    revoked = Forged("a logged-out session's token", setup.revoked, envoy_refuses=False)
    tracks_sessions = {
        "bank.member.v1.MemberService/ChangePassword",
        "bank.my_accounts.v1.MyAccountsService/ListMyAccounts",
    }
    view = setup.system.direct_grpc()
    eventually(lambda: _refused(view.call("bank.my_accounts.v1.MyAccountsService/ListMyAccounts", {}, setup.revoked)))
    view.close()
    trusted = {"member": setup.member, "operator": setup.operator_signer}
    assert all(len(corpus) >= 30 for corpus in corpora.values())
    ways = _ways(setup.system)
    failures = []
    try:
        for rpc, request, cls in setup.targets():
            for way in ways:
                # The corpus's baseline, signed by the same signer, is accepted: refusals below are the forgery's.
                baseline = way.call(rpc, request, trusted[cls].token())
                if _is_refusal(baseline):
                    failures.append(f"{rpc} {way.label}: the untampered token was refused: {baseline.body}")
                for forged in [*corpora[cls], *([revoked] if rpc in tracks_sessions else [])]:
                    outcome = way.call(rpc, request, forged.token)
                    direct = "direct" in way.label
                    member_on_operator_rpc = cls == "operator" and forged.name == "the other token class"
                    # A service tells a member's valid token on an operator RPC apart (PERMISSION_DENIED).
                    expected = ("PERMISSION_DENIED",) if direct and member_on_operator_rpc else ("UNAUTHENTICATED",)
                    if direct and outcome.code not in expected:
                        failures.append(f"{rpc} {way.label} {forged.name}: {outcome.code} {outcome.body}")
                    if not direct and not _is_refusal(outcome):
                        failures.append(f"{rpc} {way.label} {forged.name}: {outcome.code} {outcome.body}")
    finally:
        for way in ways:
            way.close()
    assert failures == [], "\n".join(failures[:20])


def test_two_credentials_are_refused_everywhere_whichever_comes_first(setup: Setup) -> None:
    """Two `authorization` entries are ambiguous: refused by every service directly (gRPC and REST) and through
    the gateway (REST and gRPC), with the valid token first or second, exactly as no valid token is."""
    trusted = {"member": setup.access_token, "operator": setup.operator}
    ways = _ways(setup.system)
    failures = []
    try:
        for rpc, request, cls in setup.targets():
            valid = trusted[cls]
            for way in ways:
                assert not _is_refusal(way.call(rpc, request, valid)), f"{rpc} {way.label}: one valid token refused"
                for tokens in ([valid, "not-a-token"], ["not-a-token", valid], [valid, valid]):
                    outcome = way.call(rpc, request, tokens)
                    if outcome.code != "UNAUTHENTICATED" and outcome.http_status != 401:
                        failures.append(f"{rpc} {way.label} {len(tokens)} tokens: {outcome.code} {outcome.body}")
    finally:
        for way in ways:
            way.close()
    assert failures == [], "\n".join(failures)


def test_every_rpc_without_a_token_is_refused_unless_public(setup: Setup) -> None:
    """Route coverage at each service itself: the RPCs of the descriptor (through the OpenAPI document the
    gateway serves) over gRPC and REST, with no token and with a token in the query string or a Basic header."""
    system = setup.system
    grpc_way, rest_way = system.direct_grpc(), system.direct_rest()
    public = {op.rpc for op in operations() if op.public}
    assert public == {"bank.member.v1.MemberService/Login", "bank.member.v1.MemberService/RefreshToken"}
    failures = []
    try:
        for operation in operations():
            request = {k: v for k, v in _path_values(setup).items() if k in operation.path_params}
            for way in (grpc_way, rest_way):
                if operation.public:  # answered with the credentials of the body alone, no authorization header
                    outcome = way.call(LOGIN, {"bankingId": "forged-target", "password": PASSWORD}, None)
                    if operation.rpc == REFRESH and outcome.code == "OK":
                        outcome = way.call(REFRESH, {"refreshToken": outcome.body["refreshToken"]}, None)
                    if outcome.code != "OK":
                        failures.append(f"{operation.rpc} {way.label}: public, yet {outcome.code} {outcome.body}")
                    continue
                outcome = way.call(operation.rpc, request, None)
                if (outcome.code, _reason(outcome)) != ("UNAUTHENTICATED", "INVALID_TOKEN"):
                    failures.append(f"{operation.rpc} {way.label}: {outcome.code} {_reason(outcome)}")
            if operation.public:
                continue
            # A token anywhere but `authorization: Bearer` is no token.
            base = system.services[_owner(operation.rpc)].rest_url
            url = base + operation.url(**_path_values(setup))
            for kwargs in (
                {"params": {"access_token": setup.access_token}},
                {"headers": {"authorization": f"Basic {setup.access_token}"}},
                {"headers": {"authorization": setup.access_token}},
                {"headers": {"cookie": f"access_token={setup.access_token}"}},
            ):
                response = rest_way._client.request(operation.method, url, **kwargs)
                if response.status_code not in (400, 401):
                    failures.append(f"{operation.rpc} REST {kwargs}: {response.status_code} {response.text[:100]}")
    finally:
        grpc_way.close()
        rest_way.close()
    assert failures == [], "\n".join(failures)
    # The internal snapshot service is not on the public port, with or without a token.
    snapshot = GrpcWay({"bank.my_accounts.v1.AccountsSnapshotService": system.services["my_accounts"].address}, "")
    outcome = snapshot.call("bank.my_accounts.v1.AccountsSnapshotService/GetAccountsSnapshot", {}, setup.operator)
    snapshot.close()
    assert outcome.code == "UNIMPLEMENTED"


def _refused(outcome: Outcome) -> None:
    assert outcome.code == "UNAUTHENTICATED", outcome.body


def _reason(outcome: Outcome) -> str:
    for detail in outcome.body.get("details", []) if outcome.code != "OK" else []:
        if detail.get("@type", "").endswith("ErrorInfo"):
            return detail.get("reason", "")
    return ""


def _owner(rpc: str) -> str:
    return OWNER[rpc.split("/")[0]]


def _path_values(setup: Setup) -> dict[str, str]:
    return {"customerId": setup.customer_id, "memberId": setup.member_id, "accountNumber": "1100000000000"}
