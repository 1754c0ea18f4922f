"""Property-based fuzzing of every RPC, public and internal, against the running system: requests drawn from
the contracts' descriptors (tests/fuzz/strategies.py), real identifiers mixed into the junk so refusals are
tried on real accounts, customers and members too, each sent over gRPC directly with a valid token of the
class the RPC needs, and one in five over the service's REST adapter as well. Every answer: never a fault
code (INTERNAL, UNKNOWN, ...) nor a 5xx; a status message with no exception text, SQL, path, hash or token;
and a refused write leaves no trace (balances and sequences of the accounts, and the events the service ever
committed, unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import messages, strings
from tests.fuzz.world import (
    ACCOUNT,
    CUSTOMER,
    FORBIDDEN_CODES,
    MEMBER,
    MY_ACCOUNTS,
    OUTBOX,
    SNAPSHOT,
    VIEW_ADMIN,
    Answer,
    Fixtures,
    leaks,
    request_class,
)
from tests.reliability.report import put

pytestmark = pytest.mark.kafka
REST_EVERY = 5
# Refusals that change state by design: a failed login is counted (lockout), a reused refresh token revokes
# its family, a wrong current password is a failed attempt.
STATEFUL_REFUSALS = {MEMBER + "Login", MEMBER + "RefreshToken", MEMBER + "ChangePassword"}


@dataclass(frozen=True)
class Target:
    rpc: str
    server: str  # the key of Fixtures.grpc
    token: str  # "operator", "member", "password-member", "fresh-member" or "none"
    overrides: Callable[[Fixtures], dict[str, st.SearchStrategy[Any]]] = lambda f: {}
    state: str | None = None  # the service whose outbox (and, for "account", balances) a refusal must not change


def _real(*values: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), strings())


def _accounts(f: Fixtures) -> dict[str, st.SearchStrategy[Any]]:
    numbers = _real(*f.accounts, "1100000000000")
    return {
        "account_number": numbers,
        "from_account_number": numbers,
        "to_account_number": numbers,
        "customer_id": _real(f.customer_id, f.other_customer_id),
    }


TARGETS = [
    Target(CUSTOMER + "RegisterCustomer", "customer", "operator", state="customer"),
    Target(CUSTOMER + "GetCustomer", "customer", "operator", lambda f: {"customer_id": _real(f.customer_id)}),
    *(
        Target(CUSTOMER + name, "customer", "operator", lambda f: {"customer_id": _real(f.other_customer_id)},
               "customer")
        for name in ("SuspendCustomer", "ReinstateCustomer", "TerminateCustomer")
    ),
    Target(OUTBOX, "customer", "operator"),
    Target(
        MEMBER + "EnrollMember",
        "member",
        "operator",
        lambda f: {"customer_id": _real(f.customer_id), "banking_id": _real("fuzz-main", "new-member")},
        "member",
    ),
    Target(MEMBER + "Login", "member", "none", lambda f: {"banking_id": _real("fuzz-login")}),
    Target(MEMBER + "RefreshToken", "member", "none", lambda f: {"refresh_token": _real(f.refresh_token)}),
    Target(MEMBER + "ChangePassword", "member", "password-member"),
    Target(MEMBER + "Logout", "member", "fresh-member"),
    Target(MEMBER + "UnlockMember", "member", "operator", lambda f: {"member_id": _real(*f.member_ids.values())},
           "member"),
    Target(OUTBOX, "member", "operator"),
    *(
        Target(ACCOUNT + name, "account", "member", _accounts, None if name == "GetAccount" else "account")
        for name in ("GetAccount", "Deposit", "Withdraw", "Transfer", "OpenAccount", "CloseAccount")
    ),
    Target(OUTBOX, "account", "operator"),
    Target(MY_ACCOUNTS + "ListMyAccounts", "my_accounts", "member", _accounts),
    Target(SNAPSHOT, "my_accounts_internal", "none", _accounts),
    Target(VIEW_ADMIN, "my_accounts_admin", "operator"),
]  # fmt: skip
TRIED: dict[str, list[int]] = {}  # "rpc @ server" -> [examples, REST examples, refusals]


def _strings(message: Message) -> list[str]:
    found = []
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING:
            found.extend(value if field.is_repeated else [value])
    return found


def _check(target: Target, how: str, answer: Answer, echoed: list[str]) -> None:
    # Over REST the HTTP status is the contract: a path the junk bent onto another route is 404/405 there.
    rest_refusal = answer.http_status is not None and 400 <= answer.http_status < 500
    assert rest_refusal or answer.code not in FORBIDDEN_CODES, f"{target.rpc} {how}: {answer.code} {answer.message!r}"
    assert answer.http_status is None or answer.http_status < 500, f"{target.rpc} {how}: {answer}"
    found = leaks(" ".join([answer.message, *answer.details]), echoed)
    assert not found, f"{target.rpc} {how}: {answer.code} {answer.message!r} {answer.details} leaks {found}"


class State:
    def __init__(self, fixtures: Fixtures, service: str | None) -> None:
        self.fixtures = fixtures
        self.service = service
        self.last = self.read()

    def read(self) -> tuple[Any, ...]:
        if self.service is None:
            return ()
        balances = self.fixtures.balances() if self.service == "account" else []
        return (self.fixtures.outbox_total(self.service), balances)

    def after(self, answer: Answer, what: str) -> None:
        if self.service is None:
            return
        now = self.read()
        if answer.code != "OK":
            assert now == self.last, f"{what}: refused with {answer.code}, yet the state changed: {self.last} -> {now}"
        self.last = now


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    for name, (examples, rest, refused) in TRIED.items():
        put(
            f"hypothesis {name}:",
            f"hypothesis {name}: {examples} examples ({rest} also over REST), {refused} refused",
            "fuzz",
        )


@pytest.mark.parametrize("target", TARGETS, ids=[f"{t.rpc.split('/')[1]}@{t.server}" for t in TARGETS])
def test_every_rpc_answers_junk_without_a_fault_or_a_trace(target: Target, fixtures: Fixtures) -> None:
    descriptor = request_class(target.rpc)
    strategy = messages(descriptor, target.overrides(fixtures))
    server = fixtures.grpc[target.server]
    rest = target.rpc in fixtures.rest.operations and target.server not in ("my_accounts_internal", "my_accounts_admin")
    state = State(fixtures, None if target.rpc in STATEFUL_REFUSALS else target.state)
    counts = TRIED.setdefault(f"{target.rpc} @ {target.server}", [0, 0, 0])
    fresh: list[str] = []

    def token() -> str | None:
        if target.token == "operator":
            return fixtures.operator
        if target.token == "member":
            return fixtures.access_token
        if target.token == "password-member":
            return fixtures.password_token
        if target.token == "fresh-member":  # Logout revokes the session: a new one whenever it did
            if not fresh:
                fresh.append(fixtures.login("fuzz-main")[0])
            return fresh[0]
        return None

    @given(strategy)
    def example(message: Message) -> None:
        echoed = _strings(message)
        answer = server.call(target.rpc, message.SerializeToString(), token())
        counts[0] += 1
        counts[2] += answer.code != "OK"
        _check(target, "gRPC", answer, echoed)
        if target.token == "fresh-member" and answer.code == "OK":
            fresh.clear()
        state.after(answer, f"{target.rpc} gRPC {message}"[:500])
        if rest and counts[0] % REST_EVERY == 0:
            document = json_format.MessageToDict(message, preserving_proto_field_name=False)
            answer = fixtures.rest.call(target.rpc, document, token())
            if answer is None:
                return
            counts[1] += 1
            _check(target, "REST", answer, echoed)
            if target.token == "fresh-member" and answer.code == "OK":
                fresh.clear()
            state.after(answer, f"{target.rpc} REST {document}"[:500])

    example()
