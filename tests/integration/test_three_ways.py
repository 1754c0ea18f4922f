"""A protocol is an adapter: every RPC of every public contract, called gRPC direct, REST direct (the
service's own REST adapter) and REST through Envoy (the gateway's transcoder), gives equivalent answers and
equivalent refusals. The same scenario runs once per way, each on its own customer; the answers are compared
step by step once identifiers, tokens and times are set aside. (Calls the gateway refuses itself, without a
token or with the wrong class of token, are not upstream answers: tests/gateway and test_tokens_at_services
cover them.)"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.full_system import FullSystem, GrpcWay, Outcome, RestWay, http_status_of, pretty
from tests.integration.test_member_service import PASSWORD
from tests.openapi import operations
from tests.operator import operator_token

pytestmark = pytest.mark.kafka

CUSTOMER = "bank.customer.v1.CustomerService/"
MEMBER = "bank.member.v1.MemberService/"
ACCOUNT = "bank.account.v1.AccountService/"
MY_ACCOUNTS = "bank.my_accounts.v1.MyAccountsService/"
# Values that differ from one run to the next by design (ids, keys, tokens, clocks).
VOLATILE = {
    "customerId", "memberId", "bankingId", "accountNumber", "fromAccountNumber", "toAccountNumber",
    "accessToken", "refreshToken", "asOf", "viewAsOf", "lockedUntil",
    "accountsState",  # FRESH or STALE: how far the view had caught up at that moment, not the protocol
}  # fmt: skip
NEW_PASSWORD = "another long enough passphrase"


def normalized(value: Any) -> Any:
    if isinstance(value, dict):
        # ...At: every timestamp (registeredAt, openedAt, ...)
        return {
            k: ("<volatile>" if (k in VOLATILE or k.endswith("At")) and v else normalized(v)) for k, v in value.items()
        }
    if isinstance(value, list):  # in a stable order once the numbers that order them are set aside
        return sorted((normalized(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


class Scenario:
    """Every RPC once or more, refusals included, on one way; `steps` records (rpc, what, outcome)."""

    def __init__(self, way: GrpcWay | RestWay, operator: str) -> None:
        self.way = way
        self.operator = operator
        self.steps: list[tuple[str, str, Outcome]] = []

    def call(self, rpc: str, what: str, request: dict[str, Any], token: str | None) -> Outcome:
        outcome = self.way.call(rpc, request, token)
        self.steps.append((rpc, what, outcome))
        return outcome

    def until(self, rpc: str, what: str, request: dict[str, Any], token: str | None, done: Callable[[Outcome], bool]):
        """Repeat until `done` (the services learn of each other's changes from Kafka); records the last."""
        deadline = time.monotonic() + 30
        while True:
            outcome = self.way.call(rpc, request, token)
            if done(outcome) or time.monotonic() > deadline:
                self.steps.append((rpc, what, outcome))
                return outcome
            time.sleep(0.2)

    def ok(self, rpc: str, what: str, request: dict[str, Any], token: str | None) -> dict[str, Any]:
        outcome = self.call(rpc, what, request, token)
        assert outcome.code == "OK", f"{self.way.label} {rpc} ({what}): {pretty(outcome.body)}"
        return outcome.body

    def run(self) -> None:
        op = self.operator
        customer = self.ok(CUSTOMER + "RegisterCustomer", "register", {"name": "Kim"}, op)["customer"]
        cid = customer["customerId"]
        self.ok(CUSTOMER + "GetCustomer", "look up", {"customerId": cid}, op)
        self.call(CUSTOMER + "GetCustomer", "unknown id", {"customerId": str(uuid.uuid4())}, op)
        self.call(CUSTOMER + "RegisterCustomer", "blank name", {"name": "  "}, op)

        banking_id = f"three-{uuid.uuid4().hex[:8]}"
        enroll = {"customerId": cid, "bankingId": banking_id, "password": PASSWORD}
        enrolled = self.until(MEMBER + "EnrollMember", "enroll", enroll, op, lambda o: o.code != "FAILED_PRECONDITION")
        member_id = enrolled.body["member"]["memberId"]
        self.call(MEMBER + "EnrollMember", "same banking id again", enroll, op)
        self.call(
            MEMBER + "EnrollMember",
            "common password",
            {**enroll, "bankingId": "x" + banking_id, "password": "password1234"},
            op,
        )
        self.call(MEMBER + "Login", "wrong password", {"bankingId": banking_id, "password": PASSWORD + "!"}, None)
        login = self.ok(MEMBER + "Login", "log in", {"bankingId": banking_id.upper(), "password": PASSWORD}, None)
        token = login["accessToken"]

        def opened(o: Outcome) -> bool:
            return o.code != "FAILED_PRECONDITION"

        numbers = []
        for product in ("SAVINGS", "CHECKING"):
            request = {"customerId": cid, "productCode": product, "idempotencyKey": f"open-{uuid.uuid4()}"}
            numbers.append(
                self.until(ACCOUNT + "OpenAccount", "open", request, token, opened).body["account"]["accountNumber"]
            )
        first, second = numbers
        self.ok(ACCOUNT + "GetAccount", "look up", {"accountNumber": first}, token)
        self.call(ACCOUNT + "GetAccount", "unknown number", {"accountNumber": "1100000000000"}, token)
        key = f"dep-{uuid.uuid4()}"
        self.ok(
            ACCOUNT + "Deposit", "deposit", {"accountNumber": first, "amount": "1000", "idempotencyKey": key}, token
        )
        self.call(
            ACCOUNT + "Deposit",
            "same key again",
            {"accountNumber": first, "amount": "1000", "idempotencyKey": key},
            token,
        )
        self.call(
            ACCOUNT + "Deposit", "key reused", {"accountNumber": first, "amount": "5", "idempotencyKey": key}, token
        )
        self.call(
            ACCOUNT + "Deposit",
            "negative amount",
            {"accountNumber": first, "amount": "-5", "idempotencyKey": f"n-{uuid.uuid4()}"},
            token,
        )
        self.call(
            ACCOUNT + "Withdraw",
            "more than the balance",
            {"accountNumber": first, "amount": "5000", "idempotencyKey": f"w-{uuid.uuid4()}"},
            token,
        )
        self.ok(
            ACCOUNT + "Withdraw",
            "withdraw",
            {"accountNumber": first, "amount": "300", "idempotencyKey": f"w-{uuid.uuid4()}"},
            token,
        )
        transfer = {
            "fromAccountNumber": first,
            "toAccountNumber": second,
            "amount": "200",
            "idempotencyKey": f"t-{uuid.uuid4()}",
        }
        self.ok(ACCOUNT + "Transfer", "transfer", transfer, token)
        self.call(
            ACCOUNT + "CloseAccount",
            "close with money in it",
            {"accountNumber": first, "idempotencyKey": f"c-{uuid.uuid4()}"},
            token,
        )

        # The view catches up from Kafka: first to the transfer's sequence on the first account (4: opened,
        # deposited, withdrawn, transferred), then the listing of both.
        caught_up = {"accountNumber": first, "minSequence": "4"}
        self.until(
            MY_ACCOUNTS + "ListMyAccounts",
            "read your writes",
            caught_up,
            token,
            lambda o: o.body.get("minSequenceReached") is True,
        )
        self.ok(MY_ACCOUNTS + "ListMyAccounts", "list", {}, token)
        self.call(MY_ACCOUNTS + "ListMyAccounts", "unknown account", {"accountNumber": "1100000000000"}, token)

        refreshed = self.ok(MEMBER + "RefreshToken", "refresh", {"refreshToken": login["refreshToken"]}, None)
        token = refreshed["accessToken"]
        self.call(
            MEMBER + "ChangePassword",
            "wrong current password",
            {"currentPassword": "not it at all!", "newPassword": NEW_PASSWORD},
            token,
        )
        self.ok(
            MEMBER + "ChangePassword",
            "change password",
            {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            token,
        )
        self.call(MEMBER + "UnlockMember", "unlock a member that is not locked", {"memberId": member_id}, op)
        self.ok(MEMBER + "Logout", "log out", {}, token)
        self.call(MEMBER + "Logout", "log out again", {}, token)
        # reuse of a rotated-out refresh token (it also revokes its session, hence last)
        self.call(MEMBER + "RefreshToken", "the rotated-out token again", {"refreshToken": login["refreshToken"]}, None)

        self.ok(CUSTOMER + "SuspendCustomer", "suspend", {"customerId": cid}, op)
        self.ok(CUSTOMER + "ReinstateCustomer", "reinstate", {"customerId": cid}, op)
        self.ok(CUSTOMER + "TerminateCustomer", "terminate", {"customerId": cid}, op)
        self.call(CUSTOMER + "ReinstateCustomer", "reinstate a terminated customer", {"customerId": cid}, op)
        self.call(CUSTOMER + "SuspendCustomer", "unknown id", {"customerId": str(uuid.uuid4())}, op)


def test_every_rpc_gives_the_same_answers_three_ways(service_factory, tmp_path: Path) -> None:
    system = FullSystem(service_factory, tmp_path / "gateway")
    operator = operator_token(system.var_dir)
    ways = [system.direct_grpc(), system.direct_rest(), system.gateway_rest()]
    try:
        runs = []
        for way in ways:
            scenario = Scenario(way, operator)
            scenario.run()
            runs.append(scenario)
    finally:
        for way in ways:
            way.close()
        system.stop()

    reference = runs[0]
    called = {rpc for rpc, _, _ in reference.steps}
    assert called == {op.rpc for op in operations()}, "every RPC of the public contracts is called"
    assert any(o.code != "OK" for _, _, o in reference.steps), "refusals are compared too"
    for run in runs[1:]:
        assert [(rpc, what) for rpc, what, _ in run.steps] == [(rpc, what) for rpc, what, _ in reference.steps]
        for (rpc, what, want), (_, _, got) in zip(reference.steps, run.steps, strict=True):
            where = f"{rpc} ({what}): {reference.way.label} vs {run.way.label}"
            assert got.code == want.code, f"{where}: {want.code} vs {got.code}\n{pretty(got.body)}"
            assert normalized(got.body) == normalized(want.body), f"{where}\n{pretty(want.body)}\n{pretty(got.body)}"
            if got.http_status is not None:
                expected_http = 200 if want.code == "OK" else http_status_of(want.code)
                assert got.http_status == expected_http, f"{where}: HTTP {got.http_status}"
