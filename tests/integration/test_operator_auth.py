"""Operator RPCs (every CustomerService RPC, MemberService EnrollMember and UnlockMember) as the services run
them: without a credential, or with a bad one (garbage, forged, expired, wrong issuer or audience, another
operator key), UNAUTHENTICATED; with a banking member's real access token, PERMISSION_DENIED; nothing changed
by any refused call; with an operator token, they work."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from adapters.outbound.security.operator_tokens import issue_operator_token, load_or_create_operator_keys
from bank.customer.v1 import customer_pb2, customer_service_pb2_grpc
from bank.customer.v1 import customer_service_pb2 as customer_msgs
from bank.member.v1 import member_pb2, member_service_pb2_grpc
from bank.member.v1 import member_service_pb2 as member_msgs
from tests.conftest import free_port
from tests.integration.test_member_service import PASSWORD, eventually, member_env
from tests.operator import operator_channel, operator_keys, operator_metadata

pytestmark = pytest.mark.kafka
Rpc = tuple[Any, str, Callable[[], Any]]  # stub, method, request factory


class OperatorSystem:
    """customer (with the member keys, to tell members' tokens apart) and member, sharing one var dir."""

    def __init__(self, service_factory) -> None:  # type: ignore[no-untyped-def]
        rest = free_port()
        jwks_url = f"http://127.0.0.1:{rest}/.well-known/jwks.json"
        self.customer_service = service_factory("customer", MEMBER_JWKS_URL=jwks_url)
        self.member_service = service_factory(
            "member", **member_env(MEMBER_KEYS_PORT=str(rest), LOCKOUT_MAX_FAILURES="2")
        )
        self.customer_service.start()
        self.member_service.start()
        self.var_dir = Path(self.customer_service.env["VAR_DIR"])
        # Plain stubs: each refused call below sets its own `authorization`, or none.
        self.customers = customer_service_pb2_grpc.CustomerServiceStub(
            grpc.insecure_channel(self.customer_service.address)
        )
        self.members = member_service_pb2_grpc.MemberServiceStub(grpc.insecure_channel(self.member_service.address))
        # Stubs sending an operator token with every operator RPC.
        self.operator_customers = customer_service_pb2_grpc.CustomerServiceStub(
            operator_channel(self.customer_service.address, self.var_dir)
        )
        self.operator_members = member_service_pb2_grpc.MemberServiceStub(
            operator_channel(self.member_service.address, self.var_dir)
        )

    def register(self) -> str:
        request = customer_msgs.RegisterCustomerRequest(name="Kim")
        return self.operator_customers.RegisterCustomer(request, timeout=5).customer.customer_id

    def enroll(self, customer_id: str, banking_id: str) -> member_pb2.BankingMember:
        request = member_msgs.EnrollMemberRequest(customer_id=customer_id, banking_id=banking_id, password=PASSWORD)
        members: list[member_pb2.BankingMember] = []
        eventually(lambda: members.append(self.operator_members.EnrollMember(request, timeout=5).member))
        return members[0]

    def state(self) -> tuple[list, list]:
        """Everything an operator RPC could change: customers, members, and both outboxes."""
        customer_db = sqlite3.connect(self.var_dir / "customer.db")
        member_db = sqlite3.connect(self.var_dir / "member.db")
        try:
            return (
                [
                    customer_db.execute("select customer_id, status, version from customers order by 1").fetchall(),
                    customer_db.execute("select count(*) from outbox").fetchall(),
                ],
                [
                    member_db.execute("select member_id, status, version from members order by 1").fetchall(),
                    member_db.execute("select count(*) from outbox").fetchall(),
                ],
            )
        finally:
            customer_db.close()
            member_db.close()


def claims(**changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    base = {
        "iss": "bank-operator",
        "aud": "bank-ops",
        "sub": "mallory",
        "scope": "bank.operator",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
    }
    return base | changes


def bad_credentials(var_dir: Path, elsewhere: Path) -> dict[str, list[tuple[str, str]]]:
    """Each differs from a good operator credential in one way."""
    keys = operator_keys(var_dir)
    kid, key = keys.current.kid, keys.current.private_key

    def signed(payload: dict[str, Any], typ: str = "at+jwt", signer: Any = key) -> list[tuple[str, str]]:
        token = jwt.encode(payload, signer, algorithm="ES256", headers={"typ": typ, "kid": kid})
        return [("authorization", f"Bearer {token}")]

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    return {
        "no credential": [],
        "basic auth": [("authorization", "Basic b3BlcmF0b3I6b3BlcmF0b3I=")],
        "empty bearer": [("authorization", "Bearer ")],
        "garbage": [("authorization", "Bearer not.a.token")],
        "forged: another key under the real kid": signed(claims(), signer=ec.generate_private_key(ec.SECP256R1())),
        "expired": [("authorization", f"Bearer {issue_operator_token(keys, 'mallory', an_hour_ago)}")],
        "wrong issuer": signed(claims(iss="bank-member")),
        "wrong audience": signed(claims(aud="bank-api")),
        "no operator scope": signed(claims(scope="bank.read")),
        "typ JWT": signed(claims(), typ="JWT"),
        "another operator key": [
            (
                "authorization",
                f"Bearer {issue_operator_token(load_or_create_operator_keys(elsewhere), 'mallory', datetime.now(UTC))}",
            )
        ],
    }


def operator_rpcs(system: OperatorSystem, customer_id: str, fresh_customer: str, locked_member: str) -> list[Rpc]:
    """Every operator RPC, each with a request it would carry out for an operator."""
    c, m = system.customers, system.members
    return [
        (c, "RegisterCustomer", lambda: customer_msgs.RegisterCustomerRequest(name="Mallory")),
        (c, "GetCustomer", lambda: customer_msgs.GetCustomerRequest(customer_id=customer_id)),
        (c, "SuspendCustomer", lambda: customer_msgs.SuspendCustomerRequest(customer_id=customer_id)),
        (c, "ReinstateCustomer", lambda: customer_msgs.ReinstateCustomerRequest(customer_id=customer_id)),
        (c, "TerminateCustomer", lambda: customer_msgs.TerminateCustomerRequest(customer_id=customer_id)),
        (
            m,
            "EnrollMember",
            lambda: member_msgs.EnrollMemberRequest(
                customer_id=fresh_customer, banking_id="mallory1", password=PASSWORD
            ),
        ),
        (m, "UnlockMember", lambda: member_msgs.UnlockMemberRequest(member_id=locked_member)),
    ]


def refused(stub: Any, method: str, request: Any, metadata: list[tuple[str, str]]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        getattr(stub, method)(request, metadata=metadata, timeout=5)
    return error.value


def reason(error: grpc.RpcError) -> str:
    info = error_details_pb2.ErrorInfo()
    assert rpc_status.from_call(error).details[0].Unpack(info)
    return info.reason


def test_operator_rpcs_need_an_operator_token(service_factory, tmp_path: Path) -> None:
    system = OperatorSystem(service_factory)
    # Set up with an operator token: a customer with a logged-in member (whose token we will try), a
    # locked member (to unlock), a customer the member service knows but no member yet (to enroll).
    customer_id = system.register()
    system.enroll(customer_id, "alice001")
    member_token = system.members.Login(
        member_msgs.LoginRequest(banking_id="alice001", password=PASSWORD), timeout=5
    ).access_token
    locked_customer = system.register()
    locked = system.enroll(locked_customer, "locked01")
    for _ in range(2):
        with pytest.raises(grpc.RpcError):
            system.members.Login(member_msgs.LoginRequest(banking_id="locked01", password="wrong password!"), timeout=5)
    fresh_customer = system.register()
    eventually(lambda: refused_for_input(system, fresh_customer))  # the member service has seen it
    rpcs = operator_rpcs(system, customer_id, fresh_customer, locked.member_id)

    # A member's access token: PERMISSION_DENIED (the customer service once it has the member keys).
    for stub, method, request in rpcs:
        bearer = [("authorization", f"Bearer {member_token}")]

        def denied(stub: Any = stub, method: str = method, request: Any = request, bearer: Any = bearer) -> None:
            error = refused(stub, method, request(), bearer)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (method, error.code(), error.details())
            assert reason(error) == "PERMISSION_DENIED"

        eventually(denied, timeout=15)

    before = system.state()
    for name, metadata in bad_credentials(system.var_dir, tmp_path / "elsewhere").items():
        for stub, method, request in rpcs:
            error = refused(stub, method, request(), [("x-correlation-id", "op-test"), *metadata])
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (name, method, error.code(), error.details())
            assert error.details() == "invalid or expired token" and reason(error) == "INVALID_TOKEN", (name, method)
    for stub, method, request in rpcs:  # and once more with the member's token
        assert refused(stub, method, request(), [("authorization", f"Bearer {member_token}")]).code() == (
            grpc.StatusCode.PERMISSION_DENIED
        )
    assert system.state() == before  # no refused call changed anything

    # With an operator token, each of them works.
    metadata = operator_metadata(system.var_dir)
    customers, members = system.customers, system.members
    registered = customers.RegisterCustomer(rpcs[0][2](), metadata=metadata, timeout=5).customer
    assert registered.name == "Mallory" and registered.status == customer_pb2.CUSTOMER_STATUS_NORMAL
    assert customers.GetCustomer(rpcs[1][2](), metadata=metadata, timeout=5).customer.customer_id == customer_id
    suspended = customers.SuspendCustomer(rpcs[2][2](), metadata=metadata, timeout=5).customer
    assert suspended.status == customer_pb2.CUSTOMER_STATUS_SUSPENDED
    reinstated = customers.ReinstateCustomer(rpcs[3][2](), metadata=metadata, timeout=5).customer
    assert reinstated.status == customer_pb2.CUSTOMER_STATUS_NORMAL
    terminated = customers.TerminateCustomer(rpcs[4][2](), metadata=metadata, timeout=5).customer
    assert terminated.status == customer_pb2.CUSTOMER_STATUS_TERMINATED
    enrolled = members.EnrollMember(rpcs[5][2](), metadata=metadata, timeout=5).member
    assert (enrolled.customer_id, enrolled.banking_id) == (fresh_customer, "mallory1")
    unlocked = members.UnlockMember(rpcs[6][2](), metadata=metadata, timeout=5).member
    assert unlocked.status == member_pb2.MEMBER_STATUS_NORMAL


def refused_for_input(system: OperatorSystem, customer_id: str) -> None:
    """The member service knows the customer: enrolling it under a banking id already taken is ALREADY_EXISTS
    (checked after the customer's standing), not FAILED_PRECONDITION. Nothing is enrolled."""
    request = member_msgs.EnrollMemberRequest(customer_id=customer_id, banking_id="alice001", password=PASSWORD)
    error = refused(system.operator_members, "EnrollMember", request, [])
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS, error.details()


def test_without_the_member_keys_a_members_token_is_just_unauthenticated(service_factory, tmp_path: Path) -> None:
    # The customer service without MEMBER_JWKS_URL: a member's token is one more token that is not an
    # operator's. The member service (its own keys) still says PERMISSION_DENIED.
    rest = free_port()
    customer_service = service_factory("customer", MEMBER_JWKS_URL="")
    member_service = service_factory("member", **member_env(MEMBER_KEYS_PORT=str(rest)))
    customer_service.start()
    member_service.start()
    var_dir = customer_service.env["VAR_DIR"]
    customers = customer_service_pb2_grpc.CustomerServiceStub(operator_channel(customer_service.address, var_dir))
    members = member_service_pb2_grpc.MemberServiceStub(operator_channel(member_service.address, var_dir))
    customer_id = customers.RegisterCustomer(customer_msgs.RegisterCustomerRequest(name="Lee"), timeout=5).customer
    request = member_msgs.EnrollMemberRequest(
        customer_id=customer_id.customer_id, banking_id="leemember", password=PASSWORD
    )
    eventually(lambda: members.EnrollMember(request, timeout=5))
    token = members.Login(member_msgs.LoginRequest(banking_id="leemember", password=PASSWORD), timeout=5).access_token
    bearer = [("authorization", f"Bearer {token}")]
    get = customer_msgs.GetCustomerRequest(customer_id=customer_id.customer_id)
    assert refused(customers, "GetCustomer", get, bearer).code() == grpc.StatusCode.UNAUTHENTICATED
    unlock = member_msgs.UnlockMemberRequest(member_id=str(uuid.uuid4()))
    assert refused(members, "UnlockMember", unlock, bearer).code() == grpc.StatusCode.PERMISSION_DENIED
