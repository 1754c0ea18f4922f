"""Start in any order: a service whose dependency is down starts anyway, answers NOT_SERVING (alive, not
crash-looping), and turns SERVING by itself once the dependency is back. The account and my_accounts services
need the member service's keys before they can check a token; the customer service only uses them to tell a
member's token apart, so it serves without them."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import free_port, wait_serving
from tests.integration.test_member_service import member_env

pytestmark = pytest.mark.kafka


def health(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


def test_services_wait_for_their_dependencies_without_crashing(service_factory) -> None:  # type: ignore[no-untyped-def]
    rest = free_port()
    jwks = f"http://127.0.0.1:{rest}/.well-known/jwks.json"
    account = service_factory("account", MEMBER_JWKS_URL=jwks)
    view = service_factory("my_accounts", MEMBER_JWKS_URL=jwks, MY_ACCOUNTS_INTERNAL_PORT=str(free_port()))
    customer = service_factory("customer", MEMBER_JWKS_URL=jwks)
    member = service_factory("member", **member_env(MEMBER_KEYS_PORT=str(rest)))

    dependents = [account, view]
    for service in [*dependents, customer]:
        service.start(wait=False)
    wait_serving(customer.address, process=customer.process)  # its member keys are optional: it serves
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the member service is down: alive, and NOT_SERVING throughout
        for service in dependents:
            assert service.process is not None and service.process.poll() is None, f"{service.name} exited"
            assert health(service.address) in ("NOT_SERVING", "UNAVAILABLE"), service.name
        time.sleep(0.5)
    assert all(health(s.address) == "NOT_SERVING" for s in dependents)  # listening, saying it is not ready

    pids = {s.name: s.process.pid for s in dependents if s.process is not None}
    member.start()
    for service in dependents:
        wait_serving(service.address, timeout=60, process=service.process)
    assert {s.name: s.process.pid for s in dependents if s.process is not None} == pids  # no restart needed
