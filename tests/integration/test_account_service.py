"""The account service as operators run it, with the customer and member services and the real broker:
callers prove who they are with a real access token from a real login; money moves with one event per
account change, in sequence, under the customer's key; concurrent withdrawals never overdraw; retries are
answered once; bad requests, strangers and terminated customers are refused with nothing changed."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank.account.v1 import account_pb2, account_service_pb2_grpc, events_pb2
from bank.account.v1 import account_service_pb2 as msgs
from bank.customer.v1 import customer_service_pb2 as customer_msgs
from domain.account.model import new_account_number
from tests.databases import BACKENDS
from tests.integration.kafka_tools import Record, read_records
from tests.integration.test_member_service import System, eventually

pytestmark = pytest.mark.kafka
TOPIC = "bank.account.events.v1"
LIMIT = 100_000_000
NOT_NORMAL = "the customer is not in normal status"


@dataclass
class Caller:
    customer_id: str
    token: str

    def metadata(self, correlation_id: str | None = None) -> list[tuple[str, str]]:
        pairs = [("authorization", f"Bearer {self.token}")]
        return [*pairs, ("x-correlation-id", correlation_id)] if correlation_id else pairs


class AccountSystem(System):
    """customer + member (real logins, real JWKS) + account."""

    def __init__(self, service_factory, kafka: str, **account_env: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(service_factory)
        self.jwks_url = f"http://127.0.0.1:{self.member_service.env['MEMBER_KEYS_PORT']}/.well-known/jwks.json"
        self.account_service = service_factory("account", MEMBER_JWKS_URL=self.jwks_url, **account_env)
        self.account_service.start()
        self.accounts = account_service_pb2_grpc.AccountServiceStub(grpc.insecure_channel(self.account_service.address))
        self.kafka = kafka

    def caller(self) -> Caller:
        """A registered customer, enrolled and logged in: their id and a real access token."""
        customer_id = self.register()
        banking_id = f"acct-{uuid.uuid4().hex[:10]}"
        self.enroll(customer_id, banking_id)
        return Caller(customer_id, self.login(banking_id).access_token)

    def open(self, caller: Caller, product: str = "SAVINGS", timeout: float = 30.0) -> account_pb2.Account:
        """Open once the account service's replica has seen the customer (it learns by events)."""
        request = msgs.OpenAccountRequest(customer_id=caller.customer_id, product_code=product, idempotency_key=key())
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.accounts.OpenAccount(request, metadata=caller.metadata(), timeout=5).account
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def deposit(self, caller: Caller, number: str, amount: int, idempotency_key: str | None = None, cid=None):  # type: ignore[no-untyped-def]
        request = msgs.DepositRequest(account_number=number, amount=amount, idempotency_key=idempotency_key or key())
        return self.accounts.Deposit(request, metadata=caller.metadata(cid), timeout=5).account

    def withdraw(self, caller: Caller, number: str, amount: int, idempotency_key: str | None = None):  # type: ignore[no-untyped-def]
        request = msgs.WithdrawRequest(account_number=number, amount=amount, idempotency_key=idempotency_key or key())
        return self.accounts.Withdraw(request, metadata=caller.metadata(), timeout=5).account

    def transfer(self, caller: Caller, source: str, target: str, amount: int, idempotency_key=None, cid=None):  # type: ignore[no-untyped-def]
        request = msgs.TransferRequest(
            from_account_number=source,
            to_account_number=target,
            amount=amount,
            idempotency_key=idempotency_key or key(),
        )
        return self.accounts.Transfer(request, metadata=caller.metadata(cid), timeout=5)

    def get(self, caller: Caller, number: str) -> account_pb2.Account:
        request = msgs.GetAccountRequest(account_number=number)
        return self.accounts.GetAccount(request, metadata=caller.metadata(), timeout=5).account

    def events(self, caller: Caller, expected: int) -> list[Record]:
        prefix = self.account_service.env["KAFKA_TOPIC_PREFIX"]
        return read_records(self.kafka, prefix + TOPIC, caller.customer_id, expected=expected)


def key() -> str:
    return uuid.uuid4().hex


def decode(record: Record):  # type: ignore[no-untyped-def]
    return getattr(events_pb2, record.headers["ce_type"].removeprefix("bank.account.v1.")).FromString(record.value)


def refused(call, *args, code: grpc.StatusCode, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as error:
        call(*args, timeout=5, **kwargs)
    assert error.value.code() == code, error.value.details()
    return error.value


def fails(thunk, code: grpc.StatusCode) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as error:
        thunk()
    assert error.value.code() == code, error.value.details()
    return error.value


def reason(error: grpc.RpcError) -> str:
    info = error_details_pb2.ErrorInfo()
    assert rpc_status.from_call(error).details[0].Unpack(info)
    return info.reason


def by_account(records: list[Record]) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for record in records:
        event = decode(record)
        grouped.setdefault(event.account_number, []).append(event)
    return grouped


# -- the happy path and its events --------------------------------------------------------------------------


@pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)
def test_open_deposit_withdraw_transfer_close_and_their_events(service_factory, kafka: str) -> None:
    system = AccountSystem(service_factory, kafka)
    alice, bob = system.caller(), system.caller()
    a1, a2, b1 = system.open(alice, "savings").account_number, system.open(alice).account_number, system.open(bob)
    assert (b1.balance, b1.sequence, b1.status, b1.customer_id) == (
        0,
        1,
        account_pb2.ACCOUNT_STATUS_OPEN,
        bob.customer_id,
    )
    b1 = b1.account_number

    assert system.deposit(alice, a1, 10_000, cid="dep-corr").balance == 10_000
    assert system.withdraw(alice, a1, 3_000).balance == 7_000
    own_cid, other_cid = f"own-{key()}", f"other-{key()}"
    own = system.transfer(alice, a1, a2, 2_000, cid=own_cid)
    assert (own.from_account.balance, own.from_account.sequence, own.to_account.balance) == (5_000, 4, 2_000)
    other = system.transfer(alice, a1, b1, 1_000, cid=other_cid)
    assert other.from_account.balance == 4_000
    # Another customer's account shows only its number: never their balance or customer id.
    assert other.to_account == account_pb2.Account(account_number=b1)
    assert system.withdraw(alice, a2, 2_000).balance == 0
    closed = system.accounts.CloseAccount(
        msgs.CloseAccountRequest(account_number=a2, idempotency_key=key()), metadata=alice.metadata(), timeout=5
    ).account
    assert (closed.status, closed.sequence, closed.balance) == (account_pb2.ACCOUNT_STATUS_CLOSED, 4, 0)

    a1_now = system.get(alice, a1)
    assert (a1_now.balance, a1_now.sequence, a1_now.product_code) == (4_000, 5, "SAVINGS")
    assert system.get(alice, a2).status == account_pb2.ACCOUNT_STATUS_CLOSED
    assert (system.get(bob, b1).balance, system.get(bob, b1).sequence) == (1_000, 2)

    alice_records, bob_records = system.events(alice, 9), system.events(bob, 2)
    assert (len(alice_records), len(bob_records)) == (9, 2)
    for caller, records in ((alice, alice_records), (bob, bob_records)):
        assert len({r.partition for r in records}) == 1  # one key, one partition: in order
        for record in records:
            assert record.key == caller.customer_id
            assert record.headers["ce_specversion"] == "1.0" and record.headers["ce_source"] == "/bank/account"
            assert record.headers["content-type"] == "application/protobuf"
            assert len(record.headers["ce_id"]) == 36 and record.headers["ce_time"].endswith("Z")
            assert record.headers["correlation-id"]
            event = decode(record)
            assert record.headers["ce_type"] == event.DESCRIPTOR.full_name and event.customer_id == caller.customer_id
    alice_events, bob_events = by_account(alice_records), by_account(bob_records)
    for events in (*alice_events.values(), *bob_events.values()):
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert isinstance(events[0], events_pb2.AccountOpened)
    assert [(e.delta, e.balance, e.kind) for e in alice_events[a1][1:]] == [
        (10_000, 10_000, events_pb2.BALANCE_CHANGE_KIND_DEPOSIT),
        (-3_000, 7_000, events_pb2.BALANCE_CHANGE_KIND_WITHDRAWAL),
        (-2_000, 5_000, events_pb2.BALANCE_CHANGE_KIND_TRANSFER_OUT),
        (-1_000, 4_000, events_pb2.BALANCE_CHANGE_KIND_TRANSFER_OUT),
    ]
    assert alice_events[a1][1].correlation_id == "dep-corr"
    assert [type(e).__name__ for e in alice_events[a2]] == [
        "AccountOpened",
        "BalanceChanged",
        "BalanceChanged",
        "AccountClosed",
    ]
    assert alice_events[a2][1].kind == events_pb2.BALANCE_CHANGE_KIND_TRANSFER_IN
    [opened_b1, credit_b1] = bob_events[b1]
    assert (credit_b1.delta, credit_b1.balance, credit_b1.kind) == (
        1_000,
        1_000,
        events_pb2.BALANCE_CHANGE_KIND_TRANSFER_IN,
    )
    # Both sides of each transfer carry its correlation id, in the payload and in the header.
    assert alice_events[a1][3].correlation_id == alice_events[a2][1].correlation_id == own_cid
    assert alice_events[a1][4].correlation_id == credit_b1.correlation_id == other_cid
    for record in (*alice_records, *bob_records):  # the header says the same as the payload
        if record.headers["ce_type"] == "bank.account.v1.BalanceChanged":
            assert record.headers["correlation-id"] == decode(record).correlation_id
    assert opened_b1.product_code == "SAVINGS"


# -- concurrency --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)
async def test_fifty_concurrent_withdrawals_never_overdraw(service_factory, kafka: str) -> None:
    system = AccountSystem(service_factory, kafka)
    alice = system.caller()
    number = system.open(alice).account_number
    system.deposit(alice, number, 1_000)
    async with grpc.aio.insecure_channel(system.account_service.address) as channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)

        async def withdraw() -> tuple[grpc.StatusCode, str]:
            request = msgs.WithdrawRequest(account_number=number, amount=100, idempotency_key=key())
            try:
                await accounts.Withdraw(request, metadata=alice.metadata(), timeout=30)
                return grpc.StatusCode.OK, ""
            except grpc.aio.AioRpcError as error:
                return error.code(), error.details() or ""

        outcomes = await asyncio.gather(*(withdraw() for _ in range(50)))
    assert sum(code == grpc.StatusCode.OK for code, _ in outcomes) == 10
    assert set(outcomes) == {(grpc.StatusCode.OK, ""), (grpc.StatusCode.FAILED_PRECONDITION, "insufficient funds")}
    final = system.get(alice, number)
    assert (final.balance, final.sequence) == (0, 12)

    events = by_account(system.events(alice, 12))[number]
    assert len(events) == 12
    changes = [e for e in events if isinstance(e, events_pb2.BalanceChanged)]
    withdrawals = [e for e in changes if e.kind == events_pb2.BALANCE_CHANGE_KIND_WITHDRAWAL]
    assert len(withdrawals) == 10
    assert [e.sequence for e in events] == list(range(1, 13))
    assert [e.balance for e in withdrawals] == list(range(900, -1, -100))  # never negative, one step at a time


# -- idempotency --------------------------------------------------------------------------------------------


def test_a_retry_answers_the_first_result_and_a_reused_key_is_refused(service_factory, kafka: str) -> None:
    system = AccountSystem(service_factory, kafka)
    alice, bob = system.caller(), system.caller()
    open_request = msgs.OpenAccountRequest(customer_id=alice.customer_id, product_code="SAVINGS", idempotency_key="o-1")
    system.open(alice)  # wait for the replica first
    opened = system.accounts.OpenAccount(open_request, metadata=alice.metadata(), timeout=5).account
    again = system.accounts.OpenAccount(open_request, metadata=alice.metadata(), timeout=5).account
    assert again == opened
    number, target = opened.account_number, system.open(bob).account_number

    first = system.deposit(alice, number, 500, "d-1")
    system.deposit(alice, number, 100)
    assert system.deposit(alice, number, 500, "d-1") == first  # the account as of the first execution
    moved = system.transfer(alice, number, target, 50, "t-1")
    assert system.transfer(alice, number, target, 50, "t-1") == moved
    assert (system.get(alice, number).balance, system.get(bob, target).balance) == (550, 50)

    for call in (
        lambda: system.deposit(alice, number, 501, "d-1"),
        lambda: system.withdraw(alice, number, 500, "d-1"),
        lambda: system.transfer(alice, number, target, 51, "t-1"),
        lambda: system.accounts.OpenAccount(
            msgs.OpenAccountRequest(customer_id=alice.customer_id, product_code="OTHER", idempotency_key="o-1"),
            metadata=alice.metadata(),
            timeout=5,
        ),
    ):
        with pytest.raises(grpc.RpcError) as error:
            call()
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(error.value) == "IDEMPOTENCY_KEY_REUSED"
    assert system.get(alice, number).balance == 550
    # 2 opened, 2 deposits, 1 transfer debit: nothing for the retries or the refusals.
    assert len(system.events(alice, 5)) == 5
    assert len(system.events(bob, 2)) == 2


# -- refusals -----------------------------------------------------------------------------------------------


def forged_token(system: AccountSystem, caller: Caller) -> str:
    """A token with every right claim and a real key id, signed by a key that is not the member service's."""
    jwks = json.load(urllib.request.urlopen(system.jwks_url, timeout=5))
    now = int(time.time())
    claims = {
        "iss": "bank-member",
        "aud": "bank-api",
        "sub": caller.customer_id,
        "member_id": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    headers = {"kid": jwks["keys"][0]["kid"], "typ": "at+jwt"}
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=headers)


def test_bad_requests_strangers_and_bad_tokens_are_refused_with_nothing_changed(service_factory, kafka: str) -> None:
    system = AccountSystem(service_factory, kafka)
    alice, bob = system.caller(), system.caller()
    number = system.open(alice).account_number
    theirs = system.open(bob).account_number
    system.deposit(alice, number, 1_000)

    def refuse(method: str, request, code: grpc.StatusCode, metadata=None) -> grpc.RpcError:  # type: ignore[no-untyped-def]
        call = getattr(system.accounts, method)
        return refused(call, request, metadata=alice.metadata() if metadata is None else metadata, code=code)

    def deposit(target: str = number, amount: int = 1, idempotency_key: str | None = None) -> msgs.DepositRequest:
        return msgs.DepositRequest(
            account_number=target, amount=amount, idempotency_key=key() if idempotency_key is None else idempotency_key
        )

    def withdraw(target: str = number, amount: int = 1) -> msgs.WithdrawRequest:
        return msgs.WithdrawRequest(account_number=target, amount=amount, idempotency_key=key())

    def transfer(source: str = number, target: str = theirs, amount: int = 1) -> msgs.TransferRequest:
        return msgs.TransferRequest(
            from_account_number=source, to_account_number=target, amount=amount, idempotency_key=key()
        )

    def open_for(customer_id: str, product_code: str = "SAVINGS") -> msgs.OpenAccountRequest:
        return msgs.OpenAccountRequest(customer_id=customer_id, product_code=product_code, idempotency_key=key())

    invalid = grpc.StatusCode.INVALID_ARGUMENT
    # Amounts: 0, negative, over the per-transaction limit, and 2**63 - 1 on a non-empty account (over the
    # limit as well: INVALID_ARGUMENT; a balance overflow within the limit would be FAILED_PRECONDITION).
    for amount in (0, -1, LIMIT + 1, 2**63 - 1, -(2**63)):
        refuse("Deposit", deposit(amount=amount), invalid)
        refuse("Withdraw", withdraw(amount=amount), invalid)
        refuse("Transfer", transfer(amount=amount), invalid)
    overdraft = refuse("Withdraw", withdraw(amount=1_001), grpc.StatusCode.FAILED_PRECONDITION)
    assert overdraft.details() == "insufficient funds"
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    for request in (deposit(idempotency_key=""), deposit(idempotency_key="k" * 65), deposit("1234"), deposit(typo)):
        refuse("Deposit", request, invalid)
    refuse("Transfer", transfer(target=number), invalid)
    refuse("OpenAccount", open_for(alice.customer_id, "no-such!"), invalid)
    refuse("OpenAccount", open_for(bob.customer_id), grpc.StatusCode.PERMISSION_DENIED)

    # Bob's account and an account that does not exist get the very same answer, byte for byte.
    unknown = new_account_number()
    answers = set()
    for target in (theirs, unknown):
        for method, request in (
            ("GetAccount", msgs.GetAccountRequest(account_number=target)),
            ("Deposit", deposit(target)),
            ("Withdraw", withdraw(target)),
            ("CloseAccount", msgs.CloseAccountRequest(account_number=target, idempotency_key=key())),
            ("Transfer", transfer(target, number)),
        ):
            error = refuse(method, request, grpc.StatusCode.NOT_FOUND)
            answers.add((error.details(), rpc_status.from_call(error).SerializeToString()))
    assert len(answers) == 1
    refuse("Transfer", transfer(number, unknown), grpc.StatusCode.NOT_FOUND)

    forged = forged_token(system, alice)
    bad_metadata = [
        [],
        [("authorization", "Bearer")],
        [("authorization", "Bearer a.b.c")],
        [("authorization", f"Basic {alice.token}")],
        [("authorization", f"Bearer {forged}")],
    ]
    for metadata in bad_metadata:
        for method, request in (
            ("GetAccount", msgs.GetAccountRequest(account_number=number)),
            ("Deposit", deposit()),
            ("Withdraw", withdraw()),
            ("Transfer", transfer()),
            ("CloseAccount", msgs.CloseAccountRequest(account_number=number, idempotency_key=key())),
            ("OpenAccount", open_for(alice.customer_id)),
        ):
            assert reason(refuse(method, request, grpc.StatusCode.UNAUTHENTICATED, metadata)) == "INVALID_TOKEN"

    mine, bobs = system.get(alice, number), system.get(bob, theirs)
    assert (mine.balance, mine.sequence, bobs.balance, bobs.sequence) == (1_000, 2, 0, 1)
    assert len(system.events(alice, 2)) == 2 and len(system.events(bob, 1)) == 1


def test_a_terminated_customer_moves_no_money(service_factory, kafka: str) -> None:
    system = AccountSystem(service_factory, kafka)
    alice, bob = system.caller(), system.caller()
    number, spare = system.open(alice).account_number, system.open(alice).account_number
    theirs = system.open(bob).account_number
    system.deposit(alice, number, 1_000)
    system.deposit(bob, theirs, 500)
    system.customers.TerminateCustomer(customer_msgs.TerminateCustomerRequest(customer_id=alice.customer_id), timeout=5)

    def refused_as_not_normal() -> None:  # changes nothing either way: the amount is over the balance
        error = fails(lambda: system.withdraw(alice, number, 5_000), grpc.StatusCode.FAILED_PRECONDITION)
        assert error.details() == NOT_NORMAL

    eventually(refused_as_not_normal)
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    for thunk in (
        lambda: system.deposit(alice, number, 1),
        lambda: system.withdraw(alice, number, 1),
        lambda: system.transfer(alice, number, spare, 1),
        lambda: system.transfer(alice, number, theirs, 1),
        lambda: system.open(alice, timeout=0.0),
    ):
        assert fails(thunk, precondition).details() == NOT_NORMAL
    # Nor does money reach them: a transfer to a terminated customer's account is refused too.
    refusal = fails(lambda: system.transfer(bob, theirs, number, 1), precondition)
    assert refusal.details() == "the destination account cannot receive money"

    assert system.get(alice, number).balance == 1_000  # reading stays allowed
    assert (system.get(alice, spare).balance, system.get(bob, theirs).balance) == (0, 500)
    assert len(system.events(alice, 3)) == 3 and len(system.events(bob, 2)) == 2
