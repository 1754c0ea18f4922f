"""The REST adapter's mapping, against servicers that record what they were given: path variables, bodies and
query parameters into request messages; answers and refusals out as the gateway writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapters.inbound.grpc.metadata import bearer_token, peer_address
from adapters.inbound.grpc.server import Servicer
from adapters.inbound.rest.server import rest_app
from adapters.inbound.rest.transcoding import bindings, duplicate_field_answer, rpc_routes
from bank.account.v1 import account_pb2, account_service_pb2_grpc
from bank.account.v1.account_service_pb2 import DepositResponse
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from bank.my_accounts.v1.my_accounts_service_pb2 import ListMyAccountsResponse
from domain.shared.errors import InvalidArgument, Overloaded
from tests.duplicate_fields import DUPLICATES, LOOK_ALIKES


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.fail: Exception | None = None
        self.token = ""
        self.peer = ""

    async def _answer(self, request: Any, context: Any, response: Any) -> Any:
        self.requests.append(request)
        self.token = bearer_token(context)
        self.peer = peer_address(context)
        if self.fail is not None:
            raise self.fail
        return response


class Accounts(Recorder, account_service_pb2_grpc.AccountServiceServicer):
    async def Deposit(self, request: Any, context: Any) -> DepositResponse:
        account = account_pb2.Account(account_number=request.account_number, balance=request.amount)
        return await self._answer(request, context, DepositResponse(account=account))


class MyAccounts(Recorder, my_accounts_service_pb2_grpc.MyAccountsServiceServicer):
    async def ListMyAccounts(self, request: Any, context: Any) -> ListMyAccountsResponse:
        return await self._answer(request, context, ListMyAccountsResponse())


@pytest.fixture
def accounts() -> Accounts:
    return Accounts()


@pytest.fixture
def view() -> MyAccounts:
    return MyAccounts()


@pytest.fixture
def client(accounts: Accounts, view: MyAccounts) -> TestClient:
    servicers = [
        Servicer("bank.account.v1.AccountService", lambda *_: None, accounts),
        Servicer("bank.my_accounts.v1.MyAccountsService", lambda *_: None, view),
    ]
    return TestClient(rest_app(rpc_routes(servicers)), raise_server_exceptions=False)


BEARER = {"authorization": "Bearer t0ken"}


def test_bindings_come_from_the_contract() -> None:
    found = {(b.method.name, b.verb, b.template) for b in bindings("bank.account.v1.AccountService")}
    assert ("Deposit", "POST", "/v1/accounts/{account_number}:deposit") in found
    assert ("GetAccount", "GET", "/v1/accounts/{account_number}") in found
    assert len(found) == 6


def test_path_variable_and_body_make_the_request(client: TestClient, accounts: Accounts) -> None:
    response = client.post(
        "/v1/accounts/110123:deposit", json={"amount": "1500", "idempotencyKey": "k1"}, headers=BEARER
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    request = accounts.requests[0]
    assert (request.account_number, request.amount, request.idempotency_key) == ("110123", 1500, "k1")
    assert accounts.token == "t0ken" and accounts.peer == "testclient"
    body = response.json()
    # proto3 JSON as the gateway prints it: camelCase, int64 as a string, defaults printed
    assert body["account"]["accountNumber"] == "110123" and body["account"]["balance"] == "1500"
    assert body["account"]["status"] == "ACCOUNT_STATUS_UNSPECIFIED" and body["account"]["sequence"] == "0"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"accountNumber": "999", "amount": "1"}, "accountNumber"), ({"account_number": "999"}, "account_number")],
)
def test_the_body_cannot_override_the_path(client: TestClient, accounts: Accounts, body: dict, field: str) -> None:
    response = client.post("/v1/accounts/110123:deposit", json=body, headers=BEARER)
    assert response.status_code == 400
    status = response.json()
    assert status["code"] == 3
    violation = next(d for d in status["details"] if d["@type"].endswith("BadRequest"))["fieldViolations"][0]
    assert violation["field"] == field
    assert accounts.requests == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": "1", "nope": 1}',
        b"[1, 2]",
        b"{not json",
        b'{"amount": "ten"}',
        b'{"amount": 1.5}',
        b"\xff\xfe",
        b"[" * 30_000 + b"]" * 30_000,  # found by tests/fuzz: json.loads' RecursionError answered 500
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    ],
    ids=["unknown field", "array", "not JSON", "string amount", "fraction", "not UTF-8", "deep arrays", "deep objects"],
)
def test_bodies_that_are_not_the_message_are_refused_generically(
    client: TestClient, accounts: Accounts, raw: bytes
) -> None:
    response = client.post(
        "/v1/accounts/110123:deposit", content=raw, headers={**BEARER, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "request: not a valid message"
    assert "nope" not in response.text and "ten" not in response.text
    assert accounts.requests == []


@pytest.mark.parametrize("raw", [raw for _, raw in DUPLICATES], ids=[name for name, _ in DUPLICATES])
def test_a_body_naming_a_field_twice_is_refused(client: TestClient, accounts: Accounts, raw: bytes) -> None:
    """Proto3 JSON names a field at most once: never "the last one wins" (a deposit of 2 for "1" then "2")."""
    response = client.post(
        "/v1/accounts/110123:deposit", content=raw, headers={**BEARER, "content-type": "application/json"}
    )
    assert (response.status_code, response.text) == duplicate_field_answer()
    assert response.json()["code"] == 3  # INVALID_ARGUMENT
    assert accounts.requests == []


@pytest.mark.parametrize("raw", [raw for _, raw in LOOK_ALIKES], ids=[name for name, _ in LOOK_ALIKES])
def test_a_body_naming_each_field_once_is_read(client: TestClient, accounts: Accounts, raw: bytes) -> None:
    response = client.post(
        "/v1/accounts/110123:deposit", content=raw, headers={**BEARER, "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert accounts.requests[0].amount == 1


def test_an_empty_body_is_the_empty_message(client: TestClient, accounts: Accounts) -> None:
    assert client.post("/v1/accounts/110123:deposit", headers=BEARER).status_code == 200
    assert accounts.requests[0].amount == 0


def test_bodies_over_64_kib_are_refused(client: TestClient, accounts: Accounts) -> None:
    big = json.dumps({"idempotencyKey": "k" * 70_000})
    response = client.post("/v1/accounts/1:deposit", content=big, headers=BEARER)
    assert response.status_code == 400 and accounts.requests == []


def test_query_parameters_of_a_get(client: TestClient, view: MyAccounts) -> None:
    response = client.get("/v1/my/accounts", params={"accountNumber": "110", "min_sequence": "7"}, headers=BEARER)
    assert response.status_code == 200, response.text
    assert (view.requests[0].account_number, view.requests[0].min_sequence) == ("110", 7)
    assert response.json() == {"accounts": [], "stale": False, "minSequenceReached": False}


@pytest.mark.parametrize(
    "query",
    ["unknown=1", "minSequence=seven", "minSequence=1&min_sequence=2", "accountNumber=a&accountNumber=b"],
)
def test_bad_query_parameters_are_refused(client: TestClient, view: MyAccounts, query: str) -> None:
    response = client.get(f"/v1/my/accounts?{query}", headers=BEARER)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3 and view.requests == []


def test_a_body_rpc_takes_no_query_parameters(client: TestClient, accounts: Accounts) -> None:
    response = client.post("/v1/accounts/1:deposit?amount=5", json={}, headers=BEARER)
    assert response.status_code == 400 and accounts.requests == []


def test_refusals_are_google_rpc_status_bodies(client: TestClient, accounts: Accounts) -> None:
    accounts.fail = InvalidArgument("amount", "must be positive")
    response = client.post("/v1/accounts/1:deposit", json={"amount": "-1"}, headers=BEARER)
    assert response.status_code == 400
    status = response.json()
    assert status["code"] == 3 and status["message"] == "amount: must be positive"
    types = [d["@type"] for d in status["details"]]
    assert types == ["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.BadRequest"]
    assert status["details"][0]["reason"] == "INVALID_ARGUMENT" and status["details"][0]["domain"] == "bank"


def test_overload_answers_429_with_retry_after(client: TestClient, accounts: Accounts) -> None:
    accounts.fail = Overloaded("too many logins", retry_after_seconds=3)
    response = client.post("/v1/accounts/1:deposit", json={}, headers=BEARER)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert any(d["@type"].endswith("RetryInfo") and d["retryDelay"] == "3s" for d in response.json()["details"])


def test_a_fault_is_500_with_a_reference_only(client: TestClient, accounts: Accounts) -> None:
    accounts.fail = RuntimeError("SELECT * FROM secrets WHERE password='hunter2'")
    response = client.post("/v1/accounts/1:deposit", json={}, headers=BEARER)
    assert response.status_code == 500
    assert "SELECT" not in response.text and "hunter2" not in response.text
    assert response.json()["message"].startswith("internal error (reference ")


def test_a_missing_token_is_the_servicers_refusal(client: TestClient, accounts: Accounts) -> None:
    response = client.post("/v1/accounts/1:deposit", json={})
    assert response.status_code == 401
    assert response.json()["details"][0]["reason"] == "INVALID_TOKEN"


def test_unknown_paths_and_methods(client: TestClient) -> None:
    missing = client.get("/v1/nothing", headers=BEARER)
    assert missing.status_code == 404 and missing.json()["code"] == 5
    wrong_verb = client.get("/v1/transfers", headers=BEARER)
    assert wrong_verb.status_code == 405 and wrong_verb.json()["code"] == 12
    assert client.delete("/v1/my/accounts", headers=BEARER).status_code == 405
