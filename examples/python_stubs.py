"""Call the running bank through the gateway with the generated Python stubs (src/bank): register a customer,
enroll a banking member, log in, open an account, deposit, list my accounts.

    .venv/bin/python examples/python_stubs.py        # after scripts/up.sh or `bank up`

GATEWAY_URL (default http://127.0.0.1:8080) is the gateway: native gRPC (h2c) and REST/JSON on one port.
OPERATOR_TOKEN, if set, is the operator token for the operator RPCs; otherwise `bank operator-token` makes one
(signed with the operator keys of the var directory `bank up` used: set BANK_VAR_DIR as for `bank`).
Prints each answer (tokens shortened); exits non-zero on any unexpected answer."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from bank.account.v1 import account_service_pb2, account_service_pb2_grpc
from bank.customer.v1 import customer_service_pb2, customer_service_pb2_grpc
from bank.member.v1 import member_service_pb2, member_service_pb2_grpc
from bank.my_accounts.v1 import my_accounts_service_pb2, my_accounts_service_pb2_grpc

GATEWAY_URL = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")
TIMEOUT = 10.0  # seconds, each call
SETTLE = 30.0  # seconds to wait for a service to learn of the customer from Kafka
DEPOSIT = 100_000
SECRET_FIELDS = ("accessToken", "refreshToken")


class Unexpected(Exception):
    """An answer the flow did not expect."""


def operator_token() -> str:
    """OPERATOR_TOKEN, or a fresh one from `bank operator-token` (the venv's, else the one on PATH)."""
    if os.environ.get("OPERATOR_TOKEN"):
        return os.environ["OPERATOR_TOKEN"]
    beside = Path(sys.executable).with_name("bank")
    bank = str(beside) if beside.exists() else shutil.which("bank")
    if bank is None:
        raise Unexpected("no `bank` command (activate the venv) and no OPERATOR_TOKEN")
    result = subprocess.run(  # noqa: S603 - the bank CLI, fixed arguments
        [bank, "operator-token", "--name", "examples"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise Unexpected(f"bank operator-token failed: {result.stderr.strip()}")
    return result.stdout.strip()


def show(what: str, message: Message) -> None:
    """Print an answer as the gateway's REST clients would see it, tokens shortened."""
    answer = MessageToDict(message)
    for name in SECRET_FIELDS:
        if name in answer:
            answer[name] = answer[name][:12] + "…"
    print(f"{what}: {json.dumps(answer, ensure_ascii=False)}", flush=True)


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def retry_while_failed_precondition(what: str, call: Callable[[], Any]) -> Any:
    """`call()` again while it is refused with FAILED_PRECONDITION: a service that learns of new customers
    from Kafka has not seen this one yet."""
    deadline = time.monotonic() + SETTLE
    while True:
        try:
            return call()
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            print(f"  {what}: {exc.code().name} ({exc.details()}), retrying", flush=True)
            time.sleep(0.5)


def main() -> None:
    target = urlsplit(GATEWAY_URL).netloc or GATEWAY_URL
    suffix = secrets.token_hex(4)
    banking_id = f"py-{suffix}"
    password = f"stub example {secrets.token_hex(8)}"  # 12+ characters, not a common one
    operator = bearer(operator_token())
    print(f"gateway {target} (gRPC), banking id {banking_id}", flush=True)

    with grpc.insecure_channel(target) as channel:
        customers = customer_service_pb2_grpc.CustomerServiceStub(channel)
        members = member_service_pb2_grpc.MemberServiceStub(channel)
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        my_accounts = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)

        registered = customers.RegisterCustomer(
            customer_service_pb2.RegisterCustomerRequest(name=f"예시 {suffix}"), timeout=TIMEOUT, metadata=operator
        )
        show("RegisterCustomer", registered)
        customer_id = registered.customer.customer_id

        enroll = member_service_pb2.EnrollMemberRequest(
            customer_id=customer_id, banking_id=banking_id, password=password
        )
        enrolled = retry_while_failed_precondition(
            "EnrollMember", lambda: members.EnrollMember(enroll, timeout=TIMEOUT, metadata=operator)
        )
        show("EnrollMember", enrolled)

        login = members.Login(
            member_service_pb2.LoginRequest(banking_id=banking_id, password=password), timeout=TIMEOUT
        )
        show("Login", login)
        member = bearer(login.access_token)

        open_account = account_service_pb2.OpenAccountRequest(
            customer_id=customer_id, product_code="SAVINGS", idempotency_key=f"example-open-{uuid.uuid4()}"
        )  # the same key on every retry: an open that did happen is never repeated
        opened = retry_while_failed_precondition(
            "OpenAccount", lambda: accounts.OpenAccount(open_account, timeout=TIMEOUT, metadata=member)
        )
        show("OpenAccount", opened)
        number = opened.account.account_number

        deposited = accounts.Deposit(
            account_service_pb2.DepositRequest(
                account_number=number, amount=DEPOSIT, idempotency_key=f"example-deposit-{uuid.uuid4()}"
            ),
            timeout=TIMEOUT,
            metadata=member,
        )
        show("Deposit", deposited)
        if deposited.account.balance != DEPOSIT:
            raise Unexpected(f"Deposit: expected balance {DEPOSIT}, got {deposited.account.balance}")

        # The list is a view fed by Kafka: ask it to say when it has the deposit (read your own write).
        listing = my_accounts_service_pb2.ListMyAccountsRequest(
            account_number=number, min_sequence=deposited.account.sequence
        )
        deadline = time.monotonic() + SETTLE
        while True:
            listed = my_accounts.ListMyAccounts(listing, timeout=TIMEOUT, metadata=member)
            if listed.min_sequence_reached or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        show("ListMyAccounts", listed)
        balances = {a.account_number: a.balance for a in listed.accounts}
        if balances != {number: DEPOSIT}:
            raise Unexpected(f"ListMyAccounts: expected {{{number}: {DEPOSIT}}}, got {balances}")
    print(f"done: account {number} of {banking_id} lists balance {DEPOSIT} through the gateway", flush=True)


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as exc:
        sys.exit(f"unexpected answer: {exc.code().name}: {exc.details()}")
    except Unexpected as exc:
        sys.exit(f"unexpected answer: {exc}")
