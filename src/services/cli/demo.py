"""`bank demo`: a customer's lifecycle, its banking member's logins and its accounts through the gateway only
(native gRPC and REST/JSON on the same port, as a client outside the bank would call them), then the events
of both read back from Kafka. Each answer is checked, so the demo doubles as a smoke test (non-zero exit on
any surprise). The member, account and my_accounts services learn of the customer's status changes from
Kafka, so the steps that depend on them retry (bounded) until they have. The operator RPCs (the customer
lifecycle, EnrollMember) carry an operator token the CLI signs; the demo also shows that a member's own
access token cannot call them. On the way it stops the account service (the account list still answers,
from the my_accounts view) and starts it again, with the CLI's own `bank down`/`bank up` code. No password
and no whole token is ever printed."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status
from rich.console import Console

from bank.account.v1 import account_service_pb2 as account_msgs
from bank.account.v1 import account_service_pb2_grpc
from bank.customer.v1 import customer_pb2, customer_service_pb2_grpc, events_pb2
from bank.customer.v1 import customer_service_pb2 as msgs
from bank.member.v1 import events_pb2 as member_events_pb2
from bank.member.v1 import member_pb2, member_service_pb2_grpc
from bank.member.v1 import member_service_pb2 as member_msgs
from bank.my_accounts.v1 import my_accounts_service_pb2 as my_msgs
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from services.cli.console import CliError

TOPIC = "bank.customer.events.v1"
MEMBER_TOPIC = "bank.member.events.v1"
NAME = "홍길동"
EXPECTED_EVENTS = [
    ("bank.customer.v1.CustomerRegistered", 1),
    ("bank.customer.v1.CustomerSuspended", 2),
    ("bank.customer.v1.CustomerReinstated", 3),
    ("bank.customer.v1.CustomerTerminated", 4),
]
# Member events the flow must produce at least once (their number depends on how many retries it took).
REQUIRED_MEMBER_EVENTS = ("MemberEnrolled", "LoginSucceeded", "LoginFailed", "MemberTerminated", "SessionsRevoked")
PRODUCTS = ("SAVINGS", "CHECKING", "DEPOSIT")
DEPOSIT, WITHDRAWAL = 100_000, 30_000
SETTLE_TIMEOUT = 30.0  # seconds a step waits for the member service to see a customer event
WORDS = (
    "maple", "harbor", "violet", "granite", "lantern", "meadow", "copper", "saffron",
    "thunder", "willow", "orbit", "pepper", "glacier", "bamboo", "falcon", "ember",
)  # fmt: skip
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
# The RPCs only an operator may call: the demo sends its operator token with these and no others.
OPERATOR_RPCS = frozenset(
    {"RegisterCustomer", "GetCustomer", "SuspendCustomer", "ReinstateCustomer", "TerminateCustomer", "EnrollMember"}
)
# The RPCs the demo calls with the member's access token.
MEMBER_RPCS = frozenset({"OpenAccount", "GetAccount", "Deposit", "Withdraw", "ListMyAccounts"})
T = TypeVar("T")


def status_name(value: int) -> str:
    return customer_pb2.CustomerStatus.Name(value).removeprefix("CUSTOMER_STATUS_")


def secret_prefix(token: str) -> str:
    """What may be shown of a token: its first 12 characters."""
    return f"{token[:12]}…"


@dataclass
class Event:
    type: str
    ce_id: str
    customer_version: int
    partition: int
    offset: int


@dataclass
class MemberEvent:
    type: str
    ce_id: str
    detail: str  # the failure or revocation reason, if the event has one
    partition: int
    offset: int


@dataclass
class Report:
    correlation_id: str
    customer_id: str = ""
    member_id: str = ""
    banking_id: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    member_events: list[MemberEvent] = field(default_factory=list)

    def as_dict(self, ok: bool, error: str | None = None) -> dict[str, Any]:
        return {
            "ok": ok,
            "error": error,
            "correlation_id": self.correlation_id,
            "customer_id": self.customer_id,
            "member_id": self.member_id,
            "banking_id": self.banking_id,
            "steps": self.steps,
            "events": [vars(e) for e in self.events],
            "member_events": [vars(e) for e in self.member_events],
        }


class DemoFailed(CliError):
    """A step's answer was not the expected one."""


@dataclass(frozen=True)
class Settings:
    gateway: str  # host:port of the gateway: native gRPC (h2c) and REST/JSON on the same port
    bootstrap: str  # the Kafka broker the events are read back from
    rpc_timeout: float
    event_timeout: float
    operator_token: str
    settle_timeout: float = SETTLE_TIMEOUT


@dataclass(frozen=True)
class Services:
    """Stop and start one service by name, as `bank down` and `bank up` do (the CLI passes its own code)."""

    stop: Callable[[str], None]
    start: Callable[[str], None]


class Demo:
    def __init__(self, settings: Settings, services: Services, console: Console):
        self.console = console
        self.services = services
        self.operator_token = settings.operator_token
        self.bootstrap = settings.bootstrap
        self.rpc_timeout = settings.rpc_timeout
        self.event_timeout = settings.event_timeout
        self.settle_timeout = settings.settle_timeout
        # Every call goes through the gateway: one channel, a stub per public service.
        self.gateway = settings.gateway
        self.gateway_url = f"http://{settings.gateway}"
        self.channel = grpc.insecure_channel(settings.gateway)
        self.stub = customer_service_pb2_grpc.CustomerServiceStub(self.channel)
        self.members = member_service_pb2_grpc.MemberServiceStub(self.channel)
        self.accounts = account_service_pb2_grpc.AccountServiceStub(self.channel)
        self.my_accounts = my_accounts_service_pb2_grpc.MyAccountsServiceStub(self.channel)
        # One correlation id for the whole demo: it shows up in the services' log lines and event headers.
        self.report = Report(correlation_id=f"bank-demo-{uuid.uuid4()}")
        self.password = " ".join(secrets.choice(WORDS) for _ in range(5))  # never printed
        self.access_token = ""  # the member's latest access token (the account and my-accounts calls use it)
        self.logins_answered = 0  # each answered Login of our member publishes exactly one member event
        self.attempts = 0  # how many tries the last `until` took

    # -- calls -------------------------------------------------------------------------------------------

    def metadata(self, method: str, token: str | None = None) -> list[tuple[str, str]]:
        """The correlation id, and `token` if given, else the operator token for an operator RPC or the
        member's access token for the others the demo calls with one."""
        metadata = [("x-correlation-id", self.report.correlation_id)]
        if token is not None:
            metadata.append(("authorization", f"Bearer {token}"))
        elif method in OPERATOR_RPCS:
            metadata.append(("authorization", f"Bearer {self.operator_token}"))
        elif method in MEMBER_RPCS:
            metadata.append(("authorization", f"Bearer {self.access_token}"))  # the member's own token
        return metadata

    def attempt(
        self, stub: Any, method: str, request: Any, token: str | None = None
    ) -> tuple[Any, grpc.RpcError | None]:
        """One RPC with a deadline: (response, None) or (None, the error)."""
        try:
            response = getattr(stub, method)(request, timeout=self.rpc_timeout, metadata=self.metadata(method, token))
        except grpc.RpcError as exc:
            return None, exc
        return response, None

    def call(self, method: str, request: Any, stub: Any = None) -> Any:
        """One RPC; an unexpected error fails the demo with its code and message."""
        response, error = self.attempt(stub or self.stub, method, request)
        if error is not None:
            raise DemoFailed(f"{method} failed: {describe(error)}")
        return response

    def refused(self, what: str, answer: tuple[Any, grpc.RpcError | None], code: grpc.StatusCode) -> grpc.RpcError:
        """The error of an answer that must be a refusal with `code`; DemoFailed if it was anything else."""
        _, error = answer
        if error is None:
            raise DemoFailed(f"{what} was accepted; it must be refused ({code.name})")
        if error.code() is not code:
            raise DemoFailed(f"{what}: expected {code.name}, got {describe(error)}")
        return error

    def login(self, banking_id: str, password: str) -> tuple[Any, grpc.RpcError | None]:
        response, error = self.attempt(
            self.members, "Login", member_msgs.LoginRequest(banking_id=banking_id, password=password)
        )
        if error is None or error.code() is UNAUTHENTICATED:
            self.logins_answered += 1
        return response, error

    def until(self, what: str, call: Callable[[], tuple[Any, grpc.RpcError | None]], outcome: Callable[..., T]) -> T:
        """Repeat `call` until `outcome(response, error)` is not None, for at most settle_timeout seconds,
        backing off (the member service throttles logins per banking id). RESOURCE_EXHAUSTED waits the
        delay its RetryInfo asks for. `outcome` raises DemoFailed for an answer that is wrong outright."""
        deadline = time.monotonic() + self.settle_timeout
        delay, attempts = 0.25, 0
        with self.console.status(f"{what} (up to {self.settle_timeout:.0f} s)"):
            while True:
                attempts += 1
                response, error = call()
                if error is not None and error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    wait = retry_delay(error)
                else:
                    result = outcome(response, error)
                    if result is not None:
                        self.attempts = attempts
                        return result
                    wait, delay = delay, min(delay * 2, 2.0)
                if time.monotonic() + wait > deadline:
                    last = describe(error) if error is not None else "accepted"
                    raise DemoFailed(
                        f"{what}: not done after {self.settle_timeout:.0f} s and {attempts} attempts "
                        f"(last answer: {last})"
                    )
                time.sleep(wait)

    # -- output ------------------------------------------------------------------------------------------

    def step(self, title: str, detail: str, *more: str, **data: Any) -> None:
        n = len(self.report.steps) + 1
        self.report.steps.append({"step": n, "title": title, "detail": detail, **data})
        self.console.print(f"[bold]{n}.[/] {title}\n   [green]✓[/] {detail}", highlight=False)
        for line in more:
            self.console.print(f"     {line}", highlight=False)

    def expect(self, what: str, customer: customer_pb2.Customer, status: int, version: int) -> None:
        got = (customer.customer_id, customer.name, customer.status, customer.version)
        want = (self.report.customer_id, NAME, status, version)
        if got != want:
            raise DemoFailed(
                f"{what}: expected {status_name(status)} version {version}, "
                f"got {status_name(customer.status)} version {customer.version} (id {customer.customer_id!r})"
            )

    def shown(self, customer: customer_pb2.Customer) -> str:
        return f"{customer.name} is {status_name(customer.status)} (version {customer.version})"

    def tried(self) -> str:
        return f"after {self.attempts} attempt{'s' if self.attempts > 1 else ''}"

    # -- the flow ----------------------------------------------------------------------------------------

    def run(self) -> Report:
        self.console.print(
            f"Every call through the gateway at [cyan]{self.gateway}[/] (native gRPC and REST/JSON on the same "
            f"port), correlation id [cyan]{self.report.correlation_id}[/]\n",
            highlight=False,
        )
        registered = self.call("RegisterCustomer", msgs.RegisterCustomerRequest(name=NAME)).customer
        self.report.customer_id = registered.customer_id
        self.expect("RegisterCustomer", registered, customer_pb2.CUSTOMER_STATUS_NORMAL, 1)
        self.step(
            f"Register a customer named {NAME}",
            f"registered with id {registered.customer_id}; {self.shown(registered)}",
            customer_id=registered.customer_id,
        )
        cid = registered.customer_id

        shown = self.call("GetCustomer", msgs.GetCustomerRequest(customer_id=cid)).customer
        self.expect("GetCustomer", shown, customer_pb2.CUSTOMER_STATUS_NORMAL, 1)
        self.step("Look the customer up", self.shown(shown))

        self.enroll(cid)
        banking_id = self.report.banking_id
        first_refresh = self.first_login(banking_id)
        self.member_token_is_not_an_operators()
        self.wrong_password(banking_id)
        numbers = self.open_accounts(cid)
        self.deposit_and_withdraw(numbers[0])
        self.login_with_balances(banking_id, numbers)
        self.list_over_rest(numbers)
        self.list_over_grpc(numbers)
        self.account_service_down(numbers)

        self.change("SuspendCustomer", msgs.SuspendCustomerRequest, customer_pb2.CUSTOMER_STATUS_SUSPENDED, 2)
        self.login_refused(banking_id, "suspended")
        self.change("ReinstateCustomer", msgs.ReinstateCustomerRequest, customer_pb2.CUSTOMER_STATUS_NORMAL, 3)
        self.login_again(banking_id)
        self.change("TerminateCustomer", msgs.TerminateCustomerRequest, customer_pb2.CUSTOMER_STATUS_TERMINATED, 4)
        self.token_refused_after_termination()
        self.login_refused(banking_id, "terminated")
        self.refresh_refused(first_refresh)

        self.refused_reinstatement(cid)
        self.read_events(cid)
        self.read_member_events(cid)
        return self.report

    def change(self, method: str, request: Any, status: int, version: int) -> None:
        title = {
            "SuspendCustomer": "Suspend the customer",
            "ReinstateCustomer": "Reinstate the customer",
            "TerminateCustomer": "Terminate (해지) the customer",
        }[method]
        changed = self.call(method, request(customer_id=self.report.customer_id)).customer
        self.expect(method, changed, status, version)
        self.step(title, self.shown(changed))

    def enroll(self, cid: str) -> None:
        taken = object()

        def outcome(response: Any, error: grpc.RpcError | None) -> Any:
            if error is None:
                return response.member
            if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
                return None  # the member service has not seen CustomerRegistered yet
            if error.code() is grpc.StatusCode.ALREADY_EXISTS:
                return taken  # another run took this random banking id
            raise DemoFailed(f"EnrollMember failed: {describe(error)}")

        for _ in range(5):
            banking_id = f"hong{secrets.randbelow(10_000):04d}"
            request = member_msgs.EnrollMemberRequest(customer_id=cid, banking_id=banking_id, password=self.password)
            member = self.until(
                "Enrolling: waiting for the member service to learn of the customer from Kafka",
                lambda request=request: self.attempt(self.members, "EnrollMember", request),
                outcome,
            )
            if member is not taken:
                break
        else:
            raise DemoFailed("EnrollMember: five random banking ids were all taken")
        got = (member.customer_id, member.banking_id, member.status)
        if got != (cid, banking_id, member_pb2.MEMBER_STATUS_NORMAL):
            raise DemoFailed(f"EnrollMember: expected a NORMAL member {banking_id!r} of {cid}, got {got}")
        self.report.member_id, self.report.banking_id = member.member_id, banking_id
        self.step(
            f"Enroll a banking member for {NAME}",
            f"banking id {banking_id}, member id {member.member_id}, NORMAL ({self.tried()}: the member service "
            "learns of new customers from Kafka); password: a 5-word passphrase, not shown",
            member_id=member.member_id,
            banking_id=banking_id,
        )

    def first_login(self, banking_id: str) -> str:
        typed = banking_id.upper()
        response, error = self.login(typed, self.password)
        if error is not None:
            raise DemoFailed(f"Login as {typed}: {describe(error)}")
        header = jwt_header(response.access_token)
        state = member_pb2.AccountsSnapshotState.Name(response.accounts_state).removeprefix("ACCOUNTS_SNAPSHOT_STATE_")
        problems = []
        if response.token_type != "Bearer":  # noqa: S105 - the OAuth token type, not a secret
            problems.append(f"token type {response.token_type!r}")
        if response.expires_in <= 0:
            problems.append(f"expires_in {response.expires_in}")
        if header.get("alg") != "ES256" or header.get("typ") != "at+jwt" or not header.get("kid"):
            problems.append(f"JWT header {header}")
        if not response.refresh_token:
            problems.append("no refresh token")
        if state == "UNSPECIFIED":
            problems.append("accounts_state UNSPECIFIED")
        if problems:
            raise DemoFailed(f"Login as {typed}: unexpected {', '.join(problems)}")
        self.step(
            f"Log in with the banking id in capitals ({typed}): it is canonicalized to {banking_id}",
            f"logged in: {response.token_type} token, expires_in {response.expires_in} s",
            f"access token  {secret_prefix(response.access_token)}  (JWT header, decoded without verification: "
            f"alg={header.get('alg')} typ={header.get('typ')} kid={header.get('kid')})",
            f"refresh token {secret_prefix(response.refresh_token)}",
            f"accounts_state {state}, {len(response.accounts)} account(s): the login never waits for accounts",
            token_type=response.token_type,
            expires_in=response.expires_in,
            jwt_header={k: header.get(k) for k in ("alg", "typ", "kid")},
            access_token_prefix=secret_prefix(response.access_token),
            accounts_state=state,
        )
        self.access_token = response.access_token
        return response.refresh_token

    def member_token_is_not_an_operators(self) -> None:
        """An operator RPC called with the member's own access token instead of the operator token: the
        gateway's operator rule accepts only operator tokens, so the call never reaches the member service."""
        request = member_msgs.EnrollMemberRequest(
            customer_id=self.report.customer_id, banking_id="hongother", password=self.password
        )
        error = self.refused(
            "EnrollMember with a member's access token",
            self.attempt(self.members, "EnrollMember", request, token=self.access_token),
            UNAUTHENTICATED,
        )
        self.step(
            "Call the operator RPC EnrollMember with the member's own access token",
            f"refused by the gateway: {error.code().name}: {error.details()} (operator RPCs need an operator "
            "token; the service would answer PERMISSION_DENIED, it is never reached)",
            code=error.code().name,
            message=error.details(),
        )

    def wrong_password(self, banking_id: str) -> None:
        wrong = f"{self.password} (not it)"
        _, error = self.login(banking_id, wrong)
        if error is None:
            raise DemoFailed("Login with a wrong password was accepted")
        if (error.code(), error.details()) != (UNAUTHENTICATED, "invalid credentials"):
            raise DemoFailed(
                f"Login with a wrong password: expected UNAUTHENTICATED invalid credentials, got {describe(error)}"
            )
        self.step(
            "Log in with a wrong password",
            f"refused: {error.code().name}: {error.details()}{reason(error)}",
            code=error.code().name,
            message=error.details(),
        )

    def login_refused(self, banking_id: str, status: str) -> None:
        def outcome(response: Any, error: grpc.RpcError | None) -> grpc.RpcError | None:
            if error is None:
                return None  # accepted: the member service has not seen the status change yet
            if error.code() is UNAUTHENTICATED:
                return error
            raise DemoFailed(f"Login of a {status} customer's member: {describe(error)}")

        error = self.until(
            f"Logging in until the member service has seen that the customer is {status}",
            lambda: self.login(banking_id, self.password),
            outcome,
        )
        self.step(
            f"Log in while the customer is {status}",
            f"refused {self.tried()} (once the member service saw the change on Kafka): "
            f"{error.code().name}: {error.details()}",
            code=error.code().name,
            message=error.details(),
        )

    def login_again(self, banking_id: str) -> None:
        def outcome(response: Any, error: grpc.RpcError | None) -> Any:
            if error is None:
                return response
            if error.code() is UNAUTHENTICATED:
                return None  # the member service has not seen the reinstatement yet
            raise DemoFailed(f"Login after reinstatement: {describe(error)}")

        response = self.until(
            "Logging in until the member service has seen the reinstatement",
            lambda: self.login(banking_id, self.password),
            outcome,
        )
        self.access_token = response.access_token
        self.step(
            "Log in again after the reinstatement",
            f"logged in {self.tried()}: access token {secret_prefix(response.access_token)}",
        )

    def refresh_refused(self, refresh_token: str) -> None:
        def outcome(response: Any, error: grpc.RpcError | None) -> grpc.RpcError:
            if error is None:
                raise DemoFailed("RefreshToken with the first login's token was accepted after termination")
            if error.code() is UNAUTHENTICATED:
                return error
            raise DemoFailed(f"RefreshToken after termination: {describe(error)}")

        request = member_msgs.RefreshTokenRequest(refresh_token=refresh_token)
        error = self.until(
            "Refreshing with the first login's refresh token",
            lambda: self.attempt(self.members, "RefreshToken", request),
            outcome,
        )
        self.step(
            f"Use the first login's refresh token ({secret_prefix(refresh_token)}) after the termination",
            f"refused: {error.code().name}: {error.details()} (its session was revoked with the member)",
            code=error.code().name,
            message=error.details(),
        )

    def open_accounts(self, cid: str) -> list[str]:
        """Open one account per product with the member's token; retried while the account service's replica
        has not seen the customer yet (it learns of customers from Kafka)."""

        def outcome(response: Any, error: grpc.RpcError | None) -> Any:
            if error is None:
                return response.account
            if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
                return None
            raise DemoFailed(f"OpenAccount failed: {describe(error)}")

        opened = []
        for product in PRODUCTS:
            # The same key on every retry: an open that did happen is answered again, never repeated.
            request = account_msgs.OpenAccountRequest(
                customer_id=cid, product_code=product, idempotency_key=f"demo-open-{product.lower()}-{uuid.uuid4()}"
            )
            account = self.until(
                f"Opening a {product} account: waiting for the account service to learn of the customer",
                lambda request=request: self.attempt(self.accounts, "OpenAccount", request),
                outcome,
            )
            if (account.customer_id, account.product_code, account.balance) != (cid, product, 0):
                raise DemoFailed(f"OpenAccount {product}: unexpected account {account}")
            opened.append((account, self.tried()))
        self.step(
            "Open three accounts with the member's access token (OpenAccount over gRPC)",
            f"{len(opened)} accounts opened, balance 0 each",
            *(f"{a.account_number}  {a.product_code:<8} ({tried})" for a, tried in opened),
            accounts=[{"account_number": a.account_number, "product_code": a.product_code} for a, _ in opened],
        )
        return [a.account_number for a, _ in opened]

    def deposit_and_withdraw(self, number: str) -> None:
        deposited = self.call(
            "Deposit",
            account_msgs.DepositRequest(account_number=number, amount=DEPOSIT, idempotency_key=f"demo-{uuid.uuid4()}"),
            self.accounts,
        ).account
        if deposited.balance != DEPOSIT:
            raise DemoFailed(f"Deposit {DEPOSIT}: expected balance {DEPOSIT}, got {deposited.balance}")
        self.step(f"Deposit {DEPOSIT} KRW into {number}", f"balance {deposited.balance}", balance=deposited.balance)
        withdrawn = self.call(
            "Withdraw",
            account_msgs.WithdrawRequest(
                account_number=number, amount=WITHDRAWAL, idempotency_key=f"demo-{uuid.uuid4()}"
            ),
            self.accounts,
        ).account
        if withdrawn.balance != DEPOSIT - WITHDRAWAL:
            raise DemoFailed(f"Withdraw {WITHDRAWAL}: expected balance {DEPOSIT - WITHDRAWAL}, got {withdrawn.balance}")
        self.step(f"Withdraw {WITHDRAWAL} KRW from {number}", f"balance {withdrawn.balance}", balance=withdrawn.balance)

    def login_with_balances(self, banking_id: str, numbers: list[str]) -> None:
        """Log in until the login's accounts snapshot (from the my_accounts view, fed by Kafka) shows the
        three accounts and the first one's balance after the withdrawal."""
        want = DEPOSIT - WITHDRAWAL

        def outcome(response: Any, error: grpc.RpcError | None) -> Any:
            if error is not None:
                raise DemoFailed(f"Login to see the balances: {describe(error)}")
            balances = {a.account_number: a.balance for a in response.accounts}
            return response if set(numbers) <= set(balances) and balances[numbers[0]] == want else None

        response = self.until(
            f"Logging in until the accounts snapshot shows the balance {want}",
            lambda: self.login(banking_id, self.password),
            outcome,
        )
        self.access_token = response.access_token
        state = member_pb2.AccountsSnapshotState.Name(response.accounts_state).removeprefix("ACCOUNTS_SNAPSHOT_STATE_")
        self.step(
            "Log in again: the login's accounts snapshot shows the balances",
            f"logged in {self.tried()}; accounts_state {state}, {len(response.accounts)} account(s):",
            *(
                f"{a.account_number}  {a.product_code:<8} balance {a.balance:>7}  "
                f"as of {a.as_of.ToDatetime().isoformat(timespec='seconds')}Z"
                for a in response.accounts
            ),
            accounts_state=state,
            balances={a.account_number: a.balance for a in response.accounts},
        )

    def my_accounts_over_rest(self, numbers: list[str]) -> tuple[str, dict[str, Any]]:
        """GET /v1/my/accounts with the member's token: (url, the JSON answer); DemoFailed unless it is a 200
        listing exactly `numbers`, the first at the balance after the withdrawal."""
        url = f"{self.gateway_url}/v1/my/accounts"
        status, body = http_get(url, self.access_token, self.rpc_timeout)
        if status != 200:
            raise DemoFailed(f"GET {url} with the member's token: expected 200, got {status}: {body[:200]}")
        answer = json.loads(body)
        got = {a.get("accountNumber"): a for a in answer.get("accounts", [])}
        if set(got) != set(numbers) or str(got[numbers[0]].get("balance")) != str(DEPOSIT - WITHDRAWAL):
            raise DemoFailed(
                f"GET {url}: expected the accounts {numbers} (first at {DEPOSIT - WITHDRAWAL}), got {body[:300]}"
            )
        return url, answer

    def list_over_rest(self, numbers: list[str]) -> None:
        url, answer = self.my_accounts_over_rest(numbers)
        accounts = answer.get("accounts", [])
        self.step(
            f"List my accounts over REST through the gateway: GET {url} (Authorization: Bearer "
            f"{secret_prefix(self.access_token)})",
            f"200, {len(accounts)} account(s):",
            *(
                f"{a.get('accountNumber')}  {a.get('productCode', ''):<8} balance {a.get('balance', '0'):>7}  "
                f"asOf {a.get('asOf', '-')}"
                for a in accounts
            ),
            accounts=accounts,
        )
        status, body = http_get(url, None, self.rpc_timeout)
        if status != 401:
            raise DemoFailed(f"GET {url} without a token: expected 401, got {status}: {body[:200]}")
        self.step(f"The same GET {url} without a token", f"refused by the gateway: {status} {body[:80]}".rstrip())

    def list_over_grpc(self, numbers: list[str]) -> None:
        response = self.call("ListMyAccounts", my_msgs.ListMyAccountsRequest(), self.my_accounts)
        balances = {a.account_number: a.balance for a in response.accounts}
        if set(balances) != set(numbers) or balances[numbers[0]] != DEPOSIT - WITHDRAWAL:
            raise DemoFailed(
                f"ListMyAccounts: expected the accounts {numbers} (first at {DEPOSIT - WITHDRAWAL}), got {balances}"
            )
        self.step(
            "List my accounts over gRPC through the gateway (MyAccountsService/ListMyAccounts, Bearer "
            f"{secret_prefix(self.access_token)})",
            f"{len(response.accounts)} account(s), stale {str(response.stale).lower()}:",
            *(
                f"{a.account_number}  {a.product_code:<8} balance {a.balance:>7}  "
                f"as of {a.as_of.ToDatetime().isoformat(timespec='seconds')}Z"
                for a in response.accounts
            ),
            balances=balances,
        )

    def account_service_down(self, numbers: list[str]) -> None:
        """Stop the account service: the account list still answers (from the my_accounts view, fed by
        Kafka), with each account's as-of time. Then start it again and wait until it answers."""
        get_first = account_msgs.GetAccountRequest(account_number=numbers[0])
        self.services.stop("account")
        try:
            down = self.refused(
                "GetAccount through the gateway while the account service is stopped",
                self.attempt(self.accounts, "GetAccount", get_first),
                UNAVAILABLE,
            )
            self.step(
                "Stop the account service (SIGTERM, as `bank down` does)",
                f"stopped; GetAccount {numbers[0]} through the gateway: {down.code().name}",
                code=down.code().name,
            )
            url, answer = self.my_accounts_over_rest(numbers)
            accounts = answer.get("accounts", [])
            self.step(
                f"List my accounts over REST through the gateway while the account service is down: GET {url}",
                f"200, the same {len(accounts)} account(s) and balances, from the my_accounts view "
                f"(stale {str(answer.get('stale')).lower()}, viewAsOf {answer.get('viewAsOf', '-')}); "
                "the account service is down:",
                *(
                    f"{a.get('accountNumber')}  {a.get('productCode', ''):<8} balance {a.get('balance', '0'):>7}  "
                    f"asOf {a.get('asOf', '-')}"
                    for a in accounts
                ),
                accounts=accounts,
                stale=answer.get("stale"),
            )
        finally:
            begin = time.monotonic()
            self.services.start("account")  # even after a failed step: leave the system as it was
        serving_after = time.monotonic() - begin

        def outcome(response: Any, error: grpc.RpcError | None) -> Any:
            if error is None:
                return response.account
            if error.code() is UNAVAILABLE:
                return None  # the gateway has not reconnected yet
            raise DemoFailed(f"GetAccount after the restart: {describe(error)}")

        account = self.until(
            "GetAccount through the gateway until the account service answers again",
            lambda: self.attempt(self.accounts, "GetAccount", get_first),
            outcome,
        )
        if account.balance != DEPOSIT - WITHDRAWAL:
            raise DemoFailed(f"GetAccount after the restart: expected balance {DEPOSIT - WITHDRAWAL}, got {account}")
        self.step(
            "Start the account service again (as `bank up` does)",
            f"SERVING again after {serving_after:.1f} s; GetAccount {numbers[0]} through the gateway: "
            f"balance {account.balance} ({self.tried()})",
            balance=account.balance,
        )

    def token_refused_after_termination(self) -> None:
        """The member's last access token is still unexpired, but my_accounts learns of the termination from
        Kafka (CustomerTerminated, SessionsRevoked) and refuses it from then on."""

        def outcome(response: Any, error: grpc.RpcError | None) -> grpc.RpcError | None:
            if error is None:
                return None  # the view has not seen the termination yet
            if error.code() is grpc.StatusCode.PERMISSION_DENIED:
                # The view applies the customer's events in order and may still be at the suspension a few
                # steps back (the member service, not the view, had to see the reinstatement for the login).
                return None
            if error.code() is UNAUTHENTICATED:
                return error
            raise DemoFailed(f"ListMyAccounts with the member's token after termination: {describe(error)}")

        error = self.until(
            "Listing my accounts with the member's last access token until my_accounts has seen the termination",
            lambda: self.attempt(self.my_accounts, "ListMyAccounts", my_msgs.ListMyAccountsRequest()),
            outcome,
        )
        url = f"{self.gateway_url}/v1/my/accounts"
        status, body = http_get(url, self.access_token, self.rpc_timeout)
        if status != 401:
            raise DemoFailed(f"GET {url} with a terminated member's token: expected 401, got {status}: {body[:200]}")
        self.step(
            f"List my accounts with the member's last access token ({secret_prefix(self.access_token)}) after "
            "the termination",
            f"refused {self.tried()} (once my_accounts saw the termination on Kafka; the token itself has not "
            f"expired): gRPC {error.code().name}: {error.details()}{reason(error)}; REST GET {url}: {status}",
            code=error.code().name,
            message=error.details(),
            http_status=status,
        )

    def refused_reinstatement(self, cid: str) -> None:
        error = self.refused(
            "reinstating a terminated customer",
            self.attempt(self.stub, "ReinstateCustomer", msgs.ReinstateCustomerRequest(customer_id=cid)),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        self.step(
            "Try to reinstate the terminated customer",
            f"refused: {error.code().name}: {error.details()}{reason(error)}",
            code=error.code().name,
            message=error.details(),
        )
        after = self.call("GetCustomer", msgs.GetCustomerRequest(customer_id=cid)).customer
        self.expect("GetCustomer after the refusal", after, customer_pb2.CUSTOMER_STATUS_TERMINATED, 4)
        self.step("Look the customer up again", f"unchanged: {self.shown(after)}")

    # -- events ------------------------------------------------------------------------------------------

    def read_events(self, cid: str) -> None:
        with self.console.status(f"reading events from {TOPIC} (up to {self.event_timeout:.0f} s)"):
            records, last_error = read_records(
                self.bootstrap, TOPIC, cid, lambda got: len(got) >= len(EXPECTED_EVENTS), self.event_timeout
            )
        events = [Event(r.ce_type, r.ce_id, decode_version(r.ce_type, r.value), r.partition, r.offset) for r in records]
        self.report.events = events
        got = [(e.type, e.customer_version) for e in events]
        if got != EXPECTED_EVENTS:
            hint = f" (last Kafka error: {last_error})" if last_error else ""
            raise DemoFailed(
                f"events of customer {cid} on {TOPIC} at {self.bootstrap}: expected {short(EXPECTED_EVENTS)}, "
                f"got {short(got)}{hint}"
            )
        self.step(
            f"Read the customer's events back from Kafka ({TOPIC})",
            f"{len(events)} events, in order:",
            *(
                f"{e.type.rsplit('.', 1)[-1]:<20} ce_id={e.ce_id}  customer_version={e.customer_version}"
                for e in events
            ),
        )

    def read_member_events(self, cid: str) -> None:
        # MemberEnrolled, one event per answered login, then MemberTerminated and SessionsRevoked.
        expected = 1 + self.logins_answered + 2
        with self.console.status(f"reading events from {MEMBER_TOPIC} (up to {self.event_timeout:.0f} s)"):
            records, last_error = read_records(
                self.bootstrap, MEMBER_TOPIC, cid, lambda got: len(got) >= expected, self.event_timeout
            )
        events = [
            MemberEvent(r.ce_type.rsplit(".", 1)[-1], r.ce_id, member_detail(r.ce_type, r.value), r.partition, r.offset)
            for r in records
        ]
        self.report.member_events = events
        types = [e.type for e in events]
        missing = [t for t in REQUIRED_MEMBER_EVENTS if t not in types]
        if missing or len(events) != expected:
            hint = f" (last Kafka error: {last_error})" if last_error else ""
            raise DemoFailed(
                f"member events of customer {cid} on {MEMBER_TOPIC} at {self.bootstrap}: expected {expected} "
                f"including {', '.join(REQUIRED_MEMBER_EVENTS)}; got {len(events)}: "
                f"{', '.join(types) or 'none'}{hint}"
            )
        self.step(
            f"Read the member's events for this customer back from Kafka ({MEMBER_TOPIC})",
            f"{len(events)} events, in order:",
            *(f"{e.type:<20} {e.detail}".rstrip() for e in events),
        )

    def close(self) -> None:
        self.channel.close()


def http_get(url: str, token: str | None, timeout: float) -> tuple[int, str]:
    """(status, body) of a GET, error statuses included; the gateway unreachable fails the demo."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http URL we built
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        raise DemoFailed(f"GET {url}: {exc}") from None


def short(events: list[tuple[str, int]]) -> str:
    return ", ".join(f"{t.rsplit('.', 1)[-1]} v{v}" for t, v in events) or "none"


def describe(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)


def _details(exc: grpc.RpcError) -> list[Any]:
    status = rpc_status.from_call(exc) if isinstance(exc, grpc.Call) else None
    return list(status.details) if status else []


def reason(exc: grpc.RpcError) -> str:
    """The ErrorInfo reason from the rich error details, if the service sent one."""
    from google.rpc import error_details_pb2

    for detail in _details(exc):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return f" (reason {info.reason}, domain {info.domain})"
    return ""


def retry_delay(exc: grpc.RpcError) -> float:
    """The delay a RESOURCE_EXHAUSTED answer's RetryInfo asks for (1 s if it has none)."""
    from google.rpc import error_details_pb2

    for detail in _details(exc):
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return max(0.1, info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return 1.0


def jwt_header(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT, decoded without any verification (for display only)."""
    head = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:
        raise DemoFailed(f"the access token {secret_prefix(token)} is not a JWT") from None
    return decoded if isinstance(decoded, dict) else {}


@dataclass(frozen=True)
class Record:
    ce_type: str
    ce_id: str
    value: bytes
    partition: int
    offset: int


def read_records(
    bootstrap: str, topic: str, key: str, enough: Callable[[list[Record]], bool], timeout: float
) -> tuple[list[Record], str | None]:
    """Every record of `key` on the topic from the beginning (a fresh consumer group, nothing committed),
    until `enough` of them arrived or `timeout` seconds passed. Duplicates (the relay publishes at least
    once) are dropped by ce_id, as the real consumers do."""
    from confluent_kafka import Consumer, KafkaError  # imported here: only the demo needs the Kafka client

    from services.cli import kafka  # the operator's principal on the event bus

    consumer = Consumer(
        {
            **kafka.client(),
            "bootstrap.servers": bootstrap,
            "group.id": f"bank-demo-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    records: list[Record] = []
    seen: set[str] = set()
    last_error: str | None = None
    deadline = time.monotonic() + timeout
    try:
        consumer.subscribe([topic])
        while not enough(records) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        last_error = error.str()
                    continue
                if (msg.key() or b"").decode() != key:
                    continue
                headers = {k: (v or b"").decode() for k, v in msg.headers() or []}
                ce_id, ce_type = headers.get("ce_id", ""), headers.get("ce_type", "")
                if ce_id in seen:
                    continue
                seen.add(ce_id)
                records.append(Record(ce_type, ce_id, msg.value() or b"", msg.partition(), msg.offset()))
    finally:
        consumer.close()
    return records, last_error


def decode_version(ce_type: str, value: bytes) -> int:
    """customer_version from the payload, decoded by the message type its ce_type header names; -1 if the
    type is not a customer event (the check against the expected list then fails)."""
    package, _, name = ce_type.rpartition(".")
    cls = getattr(events_pb2, name, None) if package == "bank.customer.v1" else None
    if cls is None:
        return -1
    return cls.FromString(value).customer_version


def member_detail(ce_type: str, value: bytes) -> str:
    """The reason a LoginFailed or SessionsRevoked event carries, for display ('' for the others)."""
    if ce_type == "bank.member.v1.LoginFailed":
        failed = member_events_pb2.LoginFailed.FromString(value)
        return member_events_pb2.LoginFailureReason.Name(failed.reason).removeprefix("LOGIN_FAILURE_REASON_")
    if ce_type == "bank.member.v1.SessionsRevoked":
        revoked = member_events_pb2.SessionsRevoked.FromString(value)
        why = member_events_pb2.RevocationReason.Name(revoked.reason).removeprefix("REVOCATION_REASON_")
        return f"{why}, {len(revoked.session_ids)} session(s)"
    return ""


def run(settings: Settings, services: Services, console: Console) -> tuple[Report, DemoFailed | None]:
    demo = Demo(settings, services, console)
    try:
        return demo.run(), None
    except DemoFailed as exc:
        return demo.report, exc
    finally:
        demo.close()
