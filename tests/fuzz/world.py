"""What the fuzz tests share: raw calls (the request as bytes, so any message or any junk can be sent), the
identities and accounts of a running system (an operator, members with tokens, accounts with money), the
targets (every public and internal RPC, the class of token each needs, where it is served), and the checks
every answer must pass (no internal code, no leak in the message)."""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.descriptor_pool import Default as default_pool
from google.rpc import status_pb2

from adapters.common.intervals import Expiring
from bank.account.v1 import account_service_pb2 as account_pb
from bank.ops.v1 import ops_service_pb2 as ops_pb
from tests import service_identity
from tests.integration.full_system import OWNER, FullSystem
from tests.integration.test_member_service import PASSWORD
from tests.openapi import Operation, operations
from tests.operator import operator_token
from tests.used_secrets import remember

for _package in ("customer", "member", "account", "my_accounts"):  # registers every service's descriptors
    import_module(f"bank.{_package}.v1.{_package}_service_pb2")

CUSTOMER = "bank.customer.v1.CustomerService/"
MEMBER = "bank.member.v1.MemberService/"
ACCOUNT = "bank.account.v1.AccountService/"
MY_ACCOUNTS = "bank.my_accounts.v1.MyAccountsService/"
OUTBOX = "bank.ops.v1.OutboxService/GetOutboxStatus"
SNAPSHOT = "bank.my_accounts.v1.AccountsSnapshotService/GetAccountsSnapshot"
VIEW_ADMIN = "bank.my_accounts.v1.ViewAdminService/ListViewedAccounts"
# Never an answer to any input: a fault, a crash, a hang.
FORBIDDEN_CODES = {"INTERNAL", "UNKNOWN", "DATA_LOSS", "UNAVAILABLE", "DEADLINE_EXCEEDED", "UNIMPLEMENTED"}
LEAKS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"traceback",
        r"File \"",
        r"\b[A-Za-z]+(Error|Exception)\b",
        r"\bline \d+",
        r"\b(select|insert|update|delete)\b.+\b(from|into|set|where)\b",
        r"sqlite|sqlalchemy|asyncpg|psycopg|IntegrityError|constraint",
        r"(/[\w.-]+){2,}\.py|site-packages|/work/|/tmp/|/root/|/home/",
        r"\$argon2",
        r"eyJ[\w-]+\.eyJ",
        r"BEGIN [A-Z ]*PRIVATE KEY",
    )
]


MESSAGES: list[str] = []  # every refusal's message and details seen, for the secret scan


def _seen(answer: Answer) -> Answer:
    if len(MESSAGES) < 200_000 and answer.code != "OK":
        MESSAGES.append(" ".join([answer.message, *answer.details]))
    return answer


def request_class(rpc: str) -> Descriptor:
    service, method = rpc.split("/")
    return default_pool().FindServiceByName(service).methods_by_name[method].input_type


@dataclass
class Answer:
    code: str  # "OK" or a gRPC code name; for REST also "HTTP <status>" when no Status came back
    message: str = ""
    body: bytes = b""
    http_status: int | None = None
    details: list[str] = field(default_factory=list)


def leaks(text: str, echoed: list[str]) -> list[str]:
    """The leak patterns found in `text` once the caller's own values (which a message may quote) are cut."""
    for value in sorted((v for v in echoed if v), key=len, reverse=True):
        text = text.replace(value, "")
    return [p.pattern for p in LEAKS if p.search(text)]


class RawGrpc:
    """Unary calls with identity serializers: the request is bytes, the answer is bytes or a status. With
    `tls_dir`, over mutual TLS as service `identity` (my_accounts' internal port)."""

    def __init__(self, target: str, tls_dir: str | None = None, identity: str = "") -> None:
        options = {"grpc.max_send_message_length": 64 * 1024 * 1024}
        if tls_dir is not None:
            self.channel = service_identity.channel(target, tls_dir, identity, **options)
        else:
            self.channel = grpc.insecure_channel(target, options=list(options.items()))

    def call(self, rpc: str, payload: bytes, token: str | None = None, timeout: float = 5) -> Answer:
        method = self.channel.unary_unary(f"/{rpc}", request_serializer=None, response_deserializer=None)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            return Answer("OK", body=method(payload, metadata=metadata, timeout=timeout))
        except grpc.RpcError as error:
            details = []
            for key, value in error.trailing_metadata() or ():
                if key == "grpc-status-details-bin":
                    status = status_pb2.Status.FromString(value)
                    details = [d.value.decode("utf-8", "replace") for d in status.details]
            return _seen(Answer(error.code().name, error.details() or "", details=details))

    def close(self) -> None:
        self.channel.close()


class RawRest:
    """REST calls on an RPC's binding with the request given as proto3 JSON (path variables URL-quoted)."""

    def __init__(self, base_urls: dict[str, str]) -> None:
        self.base_urls = base_urls
        self.client = httpx.Client(timeout=5)
        self.operations: dict[str, Operation] = {op.rpc: op for op in operations()}

    def call(self, rpc: str, request: dict[str, Any], token: str | None = None) -> Answer | None:
        """None when the request cannot be put in a URL at all (longer than the client's 64 KiB limit)."""
        operation = self.operations[rpc]
        fields = dict(request)
        path = re.sub(
            r"\{([^}]+)\}", lambda m: quote(str(fields.pop(m.group(1), "")), safe="") or "%20", operation.path
        )
        url = self.base_urls[rpc.split("/")[0]] + path
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            if operation.method == "GET":
                response = self.client.get(url, params=fields, headers=headers)
            else:
                response = self.client.request(operation.method, url, json=fields, headers=headers)
        except httpx.InvalidURL:
            return None
        return rest_answer(response)

    def close(self) -> None:
        self.client.close()


def rest_answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        return Answer("OK", body=response.content, http_status=200)
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        name = next((c.name for c in grpc.StatusCode if c.value[0] == body["code"]), "UNKNOWN")
        details = [str(d) for d in body.get("details", [])]
        return _seen(Answer(name, str(body.get("message", "")), response.content, response.status_code, details))
    return _seen(Answer(f"HTTP {response.status_code}", response.text[:2000], response.content, response.status_code))


class Fixtures:
    """An operator, a customer with a logged-in member and two accounts with money; a second customer for the
    lifecycle RPCs and second and third members for Login and ChangePassword (both may end up locked)."""

    def __init__(self, system: FullSystem) -> None:
        self.system = system
        # minted again before they expire (operator tokens live an hour, member tokens 5 minutes)
        self._operator = Expiring(self._mint_operator_token, max_age=600)
        self.grpc = {name: RawGrpc(service.address) for name, service in system.services.items()}
        internal = system.services["my_accounts"].env["MY_ACCOUNTS_INTERNAL_PORT"]
        # mutual TLS: the snapshot as the member service, the view admin as the operator's CLI
        tls_dir = system.services["my_accounts"].env["SERVICE_TLS_DIR"]
        self.grpc["my_accounts_internal"] = RawGrpc(f"127.0.0.1:{internal}", tls_dir, "member")
        self.grpc["my_accounts_admin"] = RawGrpc(f"127.0.0.1:{internal}", tls_dir, "bank-operator")
        self.rest = RawRest({svc: system.services[owner].rest_url for svc, owner in OWNER.items()})
        way = system.direct_grpc()
        self.way = way
        self.customer_ids: dict[str, str] = {}
        self.member_ids: dict[str, str] = {}
        for banking_id in ("fuzz-main", "fuzz-login", "fuzz-password"):  # one member per customer
            register = {"name": f"Fuzz {banking_id}"}
            customer_id = self._ok(CUSTOMER + "RegisterCustomer", register, self.operator)["customer"]["customerId"]
            self.customer_ids[banking_id] = customer_id
            self.member_ids[banking_id] = self._enroll(customer_id, banking_id)
        self.customer_id = self.customer_ids["fuzz-main"]
        other = self._ok(CUSTOMER + "RegisterCustomer", {"name": "Fuzz Other"}, self.operator)
        self.other_customer_id = other["customer"]["customerId"]  # for the lifecycle RPCs
        remember(PASSWORD)
        self._tokens: dict[str, Expiring[str]] = {}
        self.refresh_token = self.login("fuzz-main")[1]
        self.accounts = [self._open(product) for product in ("SAVINGS", "CHECKING")]
        for number in self.accounts:
            key = f"fuzz-{uuid.uuid4()}"
            self._ok(ACCOUNT + "Deposit", {"accountNumber": number, "amount": "100000", "idempotencyKey": key})

    @property
    def operator(self) -> str:
        return self._operator.get()

    def _mint_operator_token(self) -> str:
        token = operator_token(self.system.var_dir)
        remember(token)
        return token

    def token(self, banking_id: str) -> str:
        """A member's access token, logged in again before it expires (they live 5 minutes)."""
        cached = self._tokens.setdefault(banking_id, Expiring(lambda: self.login(banking_id)[0], max_age=120))
        try:
            return cached.get()
        except AssertionError:  # locked by the fuzzing (fuzz-password): the last token stays
            if cached.last is None:
                raise
            return cached.last

    @functools.cached_property
    def logout_session(self) -> str:
        """A session of the main member for Logout (which ends it), apart from the one the other calls use."""
        return self.login("fuzz-main")[0]

    @property
    def access_token(self) -> str:
        return self.token("fuzz-main")

    @property
    def password_token(self) -> str:
        return self.token("fuzz-password")

    def login(self, banking_id: str) -> tuple[str, str]:
        body = self._ok(MEMBER + "Login", {"bankingId": banking_id, "password": PASSWORD}, None)
        remember(body["accessToken"], body["refreshToken"])
        return body["accessToken"], body["refreshToken"]

    def _ok(self, rpc: str, request: dict[str, Any], token: str | None = "member") -> dict[str, Any]:
        token = self.access_token if token == "member" else token
        deadline = time.monotonic() + 30
        while True:  # the services learn of each other's changes from Kafka
            outcome = self.way.call(rpc, request, token)
            # FAILED_PRECONDITION: not yet known there; RESOURCE_EXHAUSTED: the login throttle
            if outcome.code not in ("FAILED_PRECONDITION", "RESOURCE_EXHAUSTED") or time.monotonic() > deadline:
                break
            time.sleep(0.2 if outcome.code == "FAILED_PRECONDITION" else 1)
        assert outcome.code == "OK", f"{rpc}: {outcome.body}"
        return outcome.body

    def _enroll(self, customer_id: str, banking_id: str) -> str:
        request = {"customerId": customer_id, "bankingId": banking_id, "password": PASSWORD}
        return self._ok(MEMBER + "EnrollMember", request, self.operator)["member"]["memberId"]

    def _open(self, product: str) -> str:
        request = {"customerId": self.customer_id, "productCode": product, "idempotencyKey": f"o-{uuid.uuid4()}"}
        return self._ok(ACCOUNT + "OpenAccount", request)["account"]["accountNumber"]

    def balances(self) -> list[tuple[int, int]]:
        """(balance, sequence) of each account, from the account service itself."""
        found = []
        for number in self.accounts:
            payload = account_pb.GetAccountRequest(account_number=number).SerializeToString()
            answer = self.grpc["account"].call(ACCOUNT + "GetAccount", payload, self.access_token)
            assert answer.code == "OK", answer
            account = account_pb.GetAccountResponse.FromString(answer.body).account
            found.append((account.balance, account.sequence))
        return found

    def outbox_total(self, service: str) -> int:
        """Events the service ever committed (pending + sent): unchanged unless its state changed."""
        answer = self.grpc[service].call(OUTBOX, b"", self.operator)
        assert answer.code == "OK", answer
        status = ops_pb.GetOutboxStatusResponse.FromString(answer.body)
        return status.pending + status.sent

    def close(self) -> None:
        for channel in self.grpc.values():
            channel.close()
        self.rest.close()
        self.way.close()


def as_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message)
