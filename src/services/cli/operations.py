"""What operators do day to day, through the services' own APIs (never their databases): customers, banking
members, accounts and money, and each service's outbox backlog.

- customer and member commands are operator RPCs: the CLI signs an operator token (operator.py);
- account commands act as the banking member: the CLI logs in with the member's banking id and password
  (asked for, or read from BANK_PASSWORD or --password-stdin; never an argument, never printed) and uses
  the access token; money movements carry an idempotency key (printed; pass it again to retry safely).

Each call goes to the service's own gRPC address (`bank status` shows them). Refusals are printed with their
code and message and end the command with exit code 1."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from rich.table import Table

from services.cli import operator as operators
from services.cli import processes, registry
from services.cli.console import CliError, err, handles_errors, out
from services.cli.paths import Paths

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
BankingId = Annotated[str, typer.Option("--banking-id", "-u", help="The banking member to act as.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the member's password from the first line of stdin.")
]
IdempotencyKey = Annotated[
    str | None, typer.Option(help="Reuse the key printed by an earlier attempt to retry it safely.")
]
RPC_TIMEOUT = 10.0

customers = typer.Typer(help="Register, show, suspend, reinstate and terminate customers (operator RPCs).")
members = typer.Typer(help="Enroll and unlock banking members (operator RPCs).")
accounts = typer.Typer(help="Open accounts and move money, as the banking member (logs in first).")
outbox = typer.Typer(help="The outbox relays' backlog (events committed, not yet on Kafka).")


def _paths(ctx: typer.Context) -> Paths:
    root, var_dir = ctx.find_root().obj
    return Paths.resolve(root, var_dir)


@dataclass
class Caller:
    """Calls one service's RPCs by name with a token, turning refusals into CliErrors."""

    paths: Paths
    service: str  # registry name: customer, member, account, my_accounts
    token: str | None = None

    def call(self, stub_class: Callable[[grpc.Channel], Any], method: str, request: Any) -> Any:
        address = processes.service_address(self.paths, registry.get(self.service))
        metadata = [("authorization", f"Bearer {self.token}")] if self.token else []
        with grpc.insecure_channel(address) as channel:
            try:
                return getattr(stub_class(channel), method)(request, timeout=RPC_TIMEOUT, metadata=metadata)
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise CliError(
                        f"{method}: the {self.service} service at {address} does not answer ({exc.code().name}); "
                        "is it running? (`bank status`)"
                    ) from None
                raise CliError(f"{method} refused: {exc.code().name}: {exc.details()}") from None


def operator_caller(ctx: typer.Context, service: str) -> Caller:
    paths = _paths(ctx)
    return Caller(paths, service, operators.operator_token(paths, "bank-cli"))


def show(message: Any, json_out: bool, title: str) -> None:
    """One answer: JSON (proto3 mapping, as the REST API writes it) or a two-column table."""
    data = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    if json_out:
        out.print_json(data=data)
        return
    table = Table(title=title, show_header=False)
    for key, value in _flatten(data):
        table.add_row(key, str(value))
    out.print(table)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


# ------------------------------------------------------------------------------------------------ customers
def _customer_rpc(method: str, title: str) -> Callable[..., None]:
    @handles_errors
    def command(
        ctx: typer.Context,
        customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
        json_out: JsonOption = False,
    ) -> None:
        from bank.customer.v1 import customer_service_pb2 as msgs
        from bank.customer.v1.customer_service_pb2_grpc import CustomerServiceStub

        request = getattr(msgs, f"{method}Request")(customer_id=customer_id)
        show(operator_caller(ctx, "customer").call(CustomerServiceStub, method, request).customer, json_out, title)

    command.__doc__ = f"{title} (CustomerService/{method})."
    return command


@customers.command("register")
@handles_errors
def register_customer(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The customer's name.")],
    json_out: JsonOption = False,
) -> None:
    """Register a customer (CustomerService/RegisterCustomer)."""
    from bank.customer.v1 import customer_service_pb2 as msgs
    from bank.customer.v1.customer_service_pb2_grpc import CustomerServiceStub

    request = msgs.RegisterCustomerRequest(name=name)
    customer = operator_caller(ctx, "customer").call(CustomerServiceStub, "RegisterCustomer", request).customer
    show(customer, json_out, "registered")


customers.command("show")(_customer_rpc("GetCustomer", "Customer"))
customers.command("suspend")(_customer_rpc("SuspendCustomer", "Suspended"))
customers.command("reinstate")(_customer_rpc("ReinstateCustomer", "Reinstated"))
customers.command("terminate")(_customer_rpc("TerminateCustomer", "Terminated (해지)"))


# -------------------------------------------------------------------------------------------------- members
def read_password(prompt: str, from_stdin: bool, confirm: bool = False) -> str:
    """From stdin's first line, BANK_PASSWORD, or a hidden prompt; never from an argument (shell history)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("BANK_PASSWORD"):
        return os.environ["BANK_PASSWORD"]
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)


@members.command("enroll")
@handles_errors
def enroll_member(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer the banking id is for.")],
    banking_id: Annotated[str, typer.Argument(help="The new banking id (4-32 of a-z 0-9 . _ -).")],
    password_stdin: PasswordStdin = False,
    json_out: JsonOption = False,
) -> None:
    """Enroll a banking member for a customer (MemberService/EnrollMember); the password is asked for."""
    from bank.member.v1 import member_service_pb2 as msgs
    from bank.member.v1.member_service_pb2_grpc import MemberServiceStub

    password = read_password("Password for the new banking id", password_stdin, confirm=True)
    request = msgs.EnrollMemberRequest(customer_id=customer_id, banking_id=banking_id, password=password)
    show(operator_caller(ctx, "member").call(MemberServiceStub, "EnrollMember", request).member, json_out, "enrolled")


@members.command("unlock")
@handles_errors
def unlock_member(
    ctx: typer.Context,
    member_id: Annotated[str, typer.Argument(help="The banking member's id.")],
    json_out: JsonOption = False,
) -> None:
    """Lift a banking member's lockout (MemberService/UnlockMember)."""
    from bank.member.v1 import member_service_pb2 as msgs
    from bank.member.v1.member_service_pb2_grpc import MemberServiceStub

    request = msgs.UnlockMemberRequest(member_id=member_id)
    show(operator_caller(ctx, "member").call(MemberServiceStub, "UnlockMember", request).member, json_out, "unlocked")


# ------------------------------------------------------------------------------------------------- accounts
def member_caller(ctx: typer.Context, service: str, banking_id: str, password_stdin: bool) -> Caller:
    """Log in as the banking member; a Caller carrying its access token."""
    from bank.member.v1 import member_service_pb2 as msgs
    from bank.member.v1.member_service_pb2_grpc import MemberServiceStub

    paths = _paths(ctx)
    password = read_password(f"Password of {banking_id}", password_stdin)
    login = Caller(paths, "member").call(
        MemberServiceStub, "Login", msgs.LoginRequest(banking_id=banking_id, password=password)
    )
    return Caller(paths, service, login.access_token)


def _key(given: str | None) -> str:
    key = given or f"cli-{uuid.uuid4()}"
    if given is None:
        err.print(f"idempotency key {key} (pass --idempotency-key {key} to retry this safely)", highlight=False)
    return key


def _account_rpc(ctx: typer.Context, banking_id: str, password_stdin: bool, method: str, request: Any) -> Any:
    from bank.account.v1.account_service_pb2_grpc import AccountServiceStub

    return member_caller(ctx, "account", banking_id, password_stdin).call(AccountServiceStub, method, request)


@accounts.command("open")
@handles_errors
def open_account(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The member's own customer id.")],
    product: Annotated[str, typer.Argument(help="SAVINGS, CHECKING or DEPOSIT.")],
    banking_id: BankingId,
    idempotency_key: IdempotencyKey = None,
    password_stdin: PasswordStdin = False,
    json_out: JsonOption = False,
) -> None:
    """Open an account (AccountService/OpenAccount)."""
    from bank.account.v1 import account_service_pb2 as msgs

    request = msgs.OpenAccountRequest(
        customer_id=customer_id, product_code=product, idempotency_key=_key(idempotency_key)
    )
    show(_account_rpc(ctx, banking_id, password_stdin, "OpenAccount", request).account, json_out, "opened")


def _money(method: str, title: str) -> Callable[..., None]:
    @handles_errors
    def command(
        ctx: typer.Context,
        account_number: Annotated[str, typer.Argument(help="The account.")],
        amount: Annotated[int, typer.Argument(min=1, help="Amount in KRW.")],
        banking_id: BankingId,
        idempotency_key: IdempotencyKey = None,
        password_stdin: PasswordStdin = False,
        json_out: JsonOption = False,
    ) -> None:
        from bank.account.v1 import account_service_pb2 as msgs

        request = getattr(msgs, f"{method}Request")(
            account_number=account_number, amount=amount, idempotency_key=_key(idempotency_key)
        )
        show(_account_rpc(ctx, banking_id, password_stdin, method, request).account, json_out, title)

    command.__doc__ = f"{title} (AccountService/{method}), as the banking member."
    return command


accounts.command("deposit")(_money("Deposit", "Deposited"))
accounts.command("withdraw")(_money("Withdraw", "Withdrawn"))


@accounts.command("transfer")
@handles_errors
def transfer(
    ctx: typer.Context,
    from_account: Annotated[str, typer.Argument(help="One of the member's accounts.")],
    to_account: Annotated[str, typer.Argument(help="Any open account.")],
    amount: Annotated[int, typer.Argument(min=1, help="Amount in KRW.")],
    banking_id: BankingId,
    idempotency_key: IdempotencyKey = None,
    password_stdin: PasswordStdin = False,
    json_out: JsonOption = False,
) -> None:
    """Move money between accounts (AccountService/Transfer), as the banking member."""
    from bank.account.v1 import account_service_pb2 as msgs

    request = msgs.TransferRequest(
        from_account_number=from_account,
        to_account_number=to_account,
        amount=amount,
        idempotency_key=_key(idempotency_key),
    )
    show(_account_rpc(ctx, banking_id, password_stdin, "Transfer", request), json_out, "transferred")


@accounts.command("list")
@handles_errors
def list_accounts(
    ctx: typer.Context,
    banking_id: BankingId,
    password_stdin: PasswordStdin = False,
    json_out: JsonOption = False,
) -> None:
    """The member's accounts and balances as the my_accounts view has them (MyAccountsService)."""
    from bank.my_accounts.v1 import my_accounts_service_pb2 as msgs
    from bank.my_accounts.v1.my_accounts_service_pb2_grpc import MyAccountsServiceStub

    caller = member_caller(ctx, "my_accounts", banking_id, password_stdin)
    answer = caller.call(MyAccountsServiceStub, "ListMyAccounts", msgs.ListMyAccountsRequest())
    if json_out:
        out.print_json(data=json_format.MessageToDict(answer, always_print_fields_with_no_presence=True))
        return
    table = Table("account", "product", "balance", "as of", title=f"accounts of {banking_id}")
    for a in answer.accounts:
        table.add_row(
            a.account_number, a.product_code, f"{a.balance:,}", a.as_of.ToDatetime().isoformat(" ", "seconds")
        )
    out.print(table)
    if answer.stale:
        out.print("[yellow]the view may lag behind: balances are as of the times shown[/]")


# --------------------------------------------------------------------------------------------------- outbox
OUTBOX_SERVICES = ("customer", "member", "account")


@outbox.command("status")
@handles_errors
def outbox_status(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Each service's outbox: events pending (committed, not yet on Kafka), the oldest one's age, events sent.
    Exit code 1 if a service does not answer."""
    from bank.ops.v1.ops_service_pb2 import GetOutboxStatusRequest
    from bank.ops.v1.ops_service_pb2_grpc import OutboxServiceStub

    paths = _paths(ctx)
    token = operators.operator_token(paths, "bank-cli")
    now = datetime.now(UTC)
    rows, failed = [], []
    for name in OUTBOX_SERVICES:
        try:
            status = Caller(paths, name, token).call(OutboxServiceStub, "GetOutboxStatus", GetOutboxStatusRequest())
        except CliError as exc:
            failed.append(str(exc))
            rows.append({"service": name, "error": str(exc)})
            continue
        oldest = status.oldest_pending_at.ToDatetime(UTC) if status.HasField("oldest_pending_at") else None
        last = status.last_sent_at.ToDatetime(UTC) if status.HasField("last_sent_at") else None
        rows.append(
            {
                "service": name,
                "pending": status.pending,
                "oldest_pending_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
                "sent": status.sent,
                "last_sent_at": last.isoformat() if last else None,
            }
        )
    if json_out:
        out.print_json(data=rows)
    else:
        table = Table("service", "pending", "oldest pending", "sent", "last sent", title="outboxes")
        for row in rows:
            if "error" in row:
                table.add_row(row["service"], "-", "-", "-", f"[red]{row['error']}[/]")
                continue
            age = row["oldest_pending_age_seconds"]
            table.add_row(
                row["service"],
                str(row["pending"]),
                f"{age} s ago" if age is not None else "-",
                str(row["sent"]),
                row["last_sent_at"] or "-",
            )
        out.print(table)
    if failed:
        raise CliError(f"{len(failed)} service(s) did not answer")
