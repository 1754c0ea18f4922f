"""The member service as operators run it, with the customer service and the real broker: login keeps
working while the customer service is down (status comes from the replica), termination cascades to the
banking member and its tokens, every failure looks the same, and a flood is shed before any hashing."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank.customer.v1 import customer_service_pb2 as customer_msgs
from bank.customer.v1 import customer_service_pb2_grpc
from bank.member.v1 import events_pb2 as member_events
from bank.member.v1 import member_pb2, member_service_pb2_grpc
from bank.member.v1 import member_service_pb2 as msgs
from tests.conftest import free_port
from tests.databases import BACKENDS
from tests.integration.kafka_tools import read_records
from tests.operator import operator_channel

pytestmark = pytest.mark.kafka
PASSWORD = "a long enough passphrase"


def member_env(**extra: str) -> dict[str, str]:
    return {
        "HASH_PROFILE": "cheap",
        "MEMBER_REST_PORT": str(free_port()),
        "MY_ACCOUNTS_ADDR": f"127.0.0.1:{free_port()}",  # nobody there: accounts come back UNAVAILABLE
        "SNAPSHOT_DEADLINE_MS": "200",
        **extra,
    }


class System:
    def __init__(self, service_factory, **member_extra: str) -> None:  # type: ignore[no-untyped-def]
        self.customer_service = service_factory("customer")
        self.member_service = service_factory("member", **member_env(**member_extra))
        self.customer_service.start()
        self.member_service.start()
        # Operator RPCs (the customer lifecycle, EnrollMember, UnlockMember) carry an operator token.
        self.var_dir = self.customer_service.env["VAR_DIR"]
        self.customers = customer_service_pb2_grpc.CustomerServiceStub(
            operator_channel(self.customer_service.address, self.var_dir)
        )
        self.members = member_service_pb2_grpc.MemberServiceStub(
            operator_channel(self.member_service.address, self.var_dir)
        )

    def register(self) -> str:
        return self.customers.RegisterCustomer(
            customer_msgs.RegisterCustomerRequest(name="Kim"), timeout=5
        ).customer.customer_id

    def enroll(self, customer_id: str, banking_id: str, timeout: float = 30.0) -> member_pb2.BankingMember:
        """Enroll once the member service's replica has seen the customer (it learns by events)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                request = msgs.EnrollMemberRequest(customer_id=customer_id, banking_id=banking_id, password=PASSWORD)
                return self.members.EnrollMember(request, timeout=5).member
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def login(self, banking_id: str, password: str = PASSWORD, timeout: float = 5) -> msgs.LoginResponse:
        return self.members.Login(msgs.LoginRequest(banking_id=banking_id, password=password), timeout=timeout)

    def refused(self, call, *args, code=grpc.StatusCode.UNAUTHENTICATED, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
        with pytest.raises(grpc.RpcError) as refused:
            call(*args, timeout=5, **kwargs)
        assert refused.value.code() == code, refused.value.details()
        return refused.value


def eventually(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except (AssertionError, grpc.RpcError, pytest.fail.Exception):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_login_works_while_the_customer_service_is_down(service_factory) -> None:
    system = System(service_factory)
    normal, ended = system.register(), system.register()
    system.enroll(normal, "normal01")
    system.enroll(ended, "ended001")
    system.customers.TerminateCustomer(customer_msgs.TerminateCustomerRequest(customer_id=ended), timeout=5)
    eventually(lambda: system.refused(system.login, "ended001"))

    system.customer_service.stop()  # the customer service is down from here on
    response = system.login("NORMAL01")
    assert response.access_token and response.refresh_token and response.token_type == "Bearer"
    assert response.accounts_state == member_pb2.ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE
    system.refused(system.login, "ended001")  # terminated before the outage: refused

    # The access token is an RFC 9068 JWT that verifies with the published JWKS.
    rest = system.member_service.env["MEMBER_KEYS_PORT"]
    jwks = json.load(urllib.request.urlopen(f"http://127.0.0.1:{rest}/.well-known/jwks.json", timeout=5))
    assert all("d" not in key for key in jwks["keys"])
    header = jwt.get_unverified_header(response.access_token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(response.access_token, jwt.PyJWK(key).key, algorithms=["ES256"], audience="bank-api")
    assert claims["sub"] == normal and claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)
def test_termination_cascades_to_the_member_and_its_tokens(service_factory, kafka: str, topic_prefix: str) -> None:
    system = System(service_factory)
    customer_id = system.register()
    member = system.enroll(customer_id, "cascade1")
    login = system.login("cascade1")
    system.customers.TerminateCustomer(customer_msgs.TerminateCustomerRequest(customer_id=customer_id), timeout=5)

    # Wait for the cascade on the member topic (polling RefreshToken would itself rotate the token).
    records = read_records(kafka, topic_prefix + "bank.member.events.v1", customer_id, expected=4)
    types = [r.headers["ce_type"] for r in records]
    assert types == [
        "bank.member.v1.MemberEnrolled",
        "bank.member.v1.LoginSucceeded",
        "bank.member.v1.MemberTerminated",
        "bank.member.v1.SessionsRevoked",
    ]
    system.refused(system.members.RefreshToken, msgs.RefreshTokenRequest(refresh_token=login.refresh_token))
    system.refused(
        system.members.Logout, msgs.LogoutRequest(), metadata=[("authorization", f"Bearer {login.access_token}")]
    )
    system.refused(system.login, "cascade1")
    revoked = member_events.SessionsRevoked.FromString(records[types.index("bank.member.v1.SessionsRevoked")].value)
    assert revoked.member_id == member.member_id and revoked.all_sessions
    assert revoked.reason == member_events.REVOCATION_REASON_MEMBER_TERMINATED
    for record in records:  # no event carries a secret
        assert PASSWORD.encode() not in record.value and login.refresh_token.encode() not in record.value


def test_every_failure_cause_gives_byte_identical_answers(service_factory) -> None:
    system = System(service_factory, LOCKOUT_MAX_FAILURES="3")
    ok, locked, suspended = system.register(), system.register(), system.register()
    system.enroll(ok, "okmember")
    system.enroll(locked, "lockedmb")
    system.enroll(suspended, "suspends")
    for _ in range(3):
        system.refused(system.login, "lockedmb", "wrong password 123")
    system.customers.SuspendCustomer(customer_msgs.SuspendCustomerRequest(customer_id=suspended), timeout=5)
    eventually(lambda: system.refused(system.login, "suspends"))
    failures = [
        system.refused(system.login, banking_id, password)
        for banking_id, password in [
            ("nobody00", PASSWORD),  # unknown banking id
            ("okmember", "wrong password 123"),  # wrong password
            ("lockedmb", PASSWORD),  # locked
            ("suspends", PASSWORD),  # customer not normal
            ("okmember", ""),  # empty password
            ("okmember", "x" * 100_000),  # over-long password
            ("\u0000bad id", PASSWORD),  # malformed banking id
        ]
    ]
    answers = {(f.code(), f.details(), rpc_status.from_call(f).SerializeToString()) for f in failures}
    assert len(answers) == 1
    status = rpc_status.from_call(failures[0])
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == "INVALID_CREDENTIALS"
    assert failures[0].details() == "invalid credentials"


async def test_a_login_flood_is_shed_with_retry_info_before_hashing(service_factory) -> None:
    system = System(
        service_factory, HASH_PROFILE="owasp", HASH_WORKERS="2", HASH_QUEUE="4", THROTTLE_ID_CAPACITY="1000"
    )
    customer_id = system.register()
    system.enroll(customer_id, "floodme1")
    async with grpc.aio.insecure_channel(system.member_service.address) as channel:
        members = member_service_pb2_grpc.MemberServiceStub(channel)
        request = msgs.LoginRequest(banking_id="floodme1", password=PASSWORD)

        async def one() -> grpc.StatusCode:
            try:
                await members.Login(request, timeout=20)
                return grpc.StatusCode.OK
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    status = rpc_status.from_call(error)
                    retry = error_details_pb2.RetryInfo()
                    assert any(d.Unpack(retry) for d in status.details) and retry.retry_delay.seconds >= 1
                    assert "try again in" in error.details()
                return error.code()

        codes = await asyncio.gather(*(one() for _ in range(50)))
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert codes.count(grpc.StatusCode.OK) >= 6  # W + Q admitted at the peak, more as slots free up
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 1


BAD = [
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id="x", banking_id="alice", password=PASSWORD),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id=str(uuid.uuid4()), banking_id="a" * 10_000, password=PASSWORD),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id=str(uuid.uuid4()), banking_id="al\u0007ice", password=PASSWORD),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id=str(uuid.uuid4()), banking_id="alice", password="short"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id=str(uuid.uuid4()), banking_id="alice", password="p" * 200_000),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (
        "EnrollMember",
        msgs.EnrollMemberRequest(customer_id=str(uuid.uuid4()), banking_id="alice", password=PASSWORD),
        grpc.StatusCode.FAILED_PRECONDITION,
    ),
    ("EnrollMember", msgs.EnrollMemberRequest(), grpc.StatusCode.INVALID_ARGUMENT),
    ("Login", msgs.LoginRequest(), grpc.StatusCode.UNAUTHENTICATED),
    ("RefreshToken", msgs.RefreshTokenRequest(), grpc.StatusCode.UNAUTHENTICATED),
    ("RefreshToken", msgs.RefreshTokenRequest(refresh_token="x" * 100_000), grpc.StatusCode.UNAUTHENTICATED),
    ("Logout", msgs.LogoutRequest(), grpc.StatusCode.UNAUTHENTICATED),
    (
        "ChangePassword",
        msgs.ChangePasswordRequest(current_password=PASSWORD, new_password=PASSWORD + "!"),
        grpc.StatusCode.UNAUTHENTICATED,
    ),
    ("UnlockMember", msgs.UnlockMemberRequest(member_id="../../etc/passwd"), grpc.StatusCode.INVALID_ARGUMENT),
    ("UnlockMember", msgs.UnlockMemberRequest(member_id=str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND),
]


def test_bad_input_on_every_member_rpc_is_refused_clearly(service_factory) -> None:
    system = System(service_factory)
    for method, request, code in BAD:
        error = system.refused(getattr(system.members, method), request, code=code)
        assert "Traceback" not in error.details() and "sql" not in error.details().lower()
    bad_tokens = ["Bearer", "Bearer ", "Basic abc", "Bearer " + "x" * 5000, "Bearer a.b.c"]
    for value in bad_tokens:
        system.refused(system.members.Logout, msgs.LogoutRequest(), metadata=[("authorization", value)])
