"""A whole system for fault tests: customer, member, account (with its relay as a separate process) and
my_accounts (with its projector as a separate process), customers with logged-in members and accounts,
and a load of deposits that retries through outages with the same idempotency key."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bank.account.v1 import account_service_pb2 as account_msgs
from bank.account.v1 import account_service_pb2_grpc
from tests.conftest import ServiceProcess, free_port
from tests.integration.test_member_service import System
from tests.reliability.checker import Verdict, wait_until_converged

CUSTOMERS, ACCOUNTS_EACH = 10, 10


@dataclass
class Harness:
    system: System
    account: ServiceProcess
    view: ServiceProcess
    relay: subprocess.Popen
    projectors: list[subprocess.Popen]
    tokens: dict[str, str] = field(default_factory=dict)  # customer id -> access token
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (customer id, account number)
    deposited: dict[str, int] = field(default_factory=dict)  # what the client saw succeed, per account
    kills: list[str] = field(default_factory=list)

    def kill(self, target: str) -> None:
        process = {"account": self.account.process, "relay": self.relay, "projector": self.projectors[0]}[target]
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.kills.append(target)

    def process_of(self, target: str) -> subprocess.Popen:
        process = {"account": self.account.process, "relay": self.relay, "projector": self.projectors[0]}[target]
        assert process is not None
        return process

    def pause(self, target: str, seconds: float) -> None:
        """SIGSTOP, then SIGCONT after `seconds`: a process that hangs (GC storm, swapped out, a debugger),
        holding its connections, its Kafka group membership and its locks, then carries on."""
        process = self.process_of(target)
        process.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            process.send_signal(signal.SIGCONT)
        self.kills.append(f"pause:{target}:{seconds:g}s")

    def revive(self, target: str) -> None:
        if target == "account":
            self.account.process = None
            self.account.start()
        elif target == "relay":
            self.relay = self.account.start("relay")
        else:
            self.projectors[0] = self.view.start("projector")

    def stop_all(self) -> None:
        for process in [self.relay, *self.projectors]:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


def start_system(  # type: ignore[no-untyped-def]
    service_factory, projectors: int = 1, member_env: dict[str, str] | None = None, internal_port: int = 0
) -> Harness:
    """The system; my_accounts' internal (snapshot) port is `internal_port` if given (a proxy in front of it)."""
    internal_port = internal_port or free_port()
    member = {"MY_ACCOUNTS_ADDR": f"127.0.0.1:{internal_port}", "THROTTLE_ID_CAPACITY": "1000", **(member_env or {})}
    system = System(service_factory, **member)
    jwks = f"http://127.0.0.1:{system.member_service.env['MEMBER_KEYS_PORT']}/.well-known/jwks.json"
    account = service_factory("account", MEMBER_JWKS_URL=jwks, OUTBOX_RELAY="off")
    view = service_factory(
        "my_accounts", MEMBER_JWKS_URL=jwks, MY_ACCOUNTS_INTERNAL_PORT=str(internal_port), PROJECTOR="off"
    )
    account.start()
    view.start()
    return Harness(system, account, view, account.start("relay"), [view.start("projector") for _ in range(projectors)])


async def start_with_accounts(  # type: ignore[no-untyped-def]
    service_factory, prefix: str, projectors: int = 1, internal_port: int = 0, **member_env: str
) -> Harness:
    """The system, with CUSTOMERS customers (each a logged-in member) of ACCOUNTS_EACH accounts each."""
    harness = await asyncio.to_thread(start_system, service_factory, projectors, member_env, internal_port)
    system = harness.system
    async with grpc.aio.insecure_channel(harness.account.address) as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        for c in range(CUSTOMERS):
            customer_id = await asyncio.to_thread(system.register)
            banking_id = f"{prefix}c{c}"
            await asyncio.to_thread(system.enroll, customer_id, banking_id)
            token = (await asyncio.to_thread(system.login, banking_id)).access_token
            harness.tokens[customer_id] = token
            metadata = [("authorization", f"Bearer {token}")]
            for a in range(ACCOUNTS_EACH):
                request = account_msgs.OpenAccountRequest(
                    customer_id=customer_id, product_code="SAVINGS", idempotency_key=f"open-{c}-{a}-{uuid.uuid4()}"
                )
                opened = await retry_while(stub.OpenAccount, request, metadata, {grpc.StatusCode.FAILED_PRECONDITION})
                harness.accounts.append((customer_id, opened.account.account_number))
    return harness


RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


async def retry_while(call, request, metadata, codes=RETRYABLE, limit: float = 60.0, per_call: float = 5.0):  # type: ignore[no-untyped-def]
    """Call until it succeeds, retrying the SAME request (same idempotency key) on `codes`: at most one effect.
    FAILED_PRECONDITION is retried only where the caller says so (a replica that has not caught up yet)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return await call(request, metadata=metadata, timeout=per_call)
        except grpc.aio.AioRpcError as error:
            if error.code() not in codes or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def deposit(  # type: ignore[no-untyped-def]
    harness: Harness, stub, customer_id: str, number: str, amount: int, key: str, per_call: float = 5.0
) -> None:
    request = account_msgs.DepositRequest(account_number=number, amount=amount, idempotency_key=key)
    metadata = [("authorization", f"Bearer {harness.tokens[customer_id]}")]
    await retry_while(stub.Deposit, request, metadata, per_call=per_call)
    harness.deposited[number] = harness.deposited.get(number, 0) + amount


def databases(tmp_path: Path) -> tuple[Path, Path]:
    """The account service's and the view's SQLite files of a harness's services."""
    return tmp_path / "var" / "account.db", tmp_path / "var" / "my_accounts.db"


async def converged(tmp_path: Path) -> Verdict:
    """The checker on the account service's and the view's SQLite files, waiting up to 30 s to converge."""
    return await asyncio.to_thread(wait_until_converged, *databases(tmp_path), 30.0)


def source_balances(tmp_path: Path) -> dict[str, int]:
    """Each account's balance in the account service's own database."""
    db = sqlite3.connect(tmp_path / "var" / "account.db")
    try:
        return dict(db.execute("select account_number, balance from accounts").fetchall())
    finally:
        db.close()
