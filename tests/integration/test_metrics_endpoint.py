"""/metrics of real services (customer, member and my_accounts, started as operators start them, on the real
broker): after a few logins over gRPC and over REST, the RPC histogram moved with the right protocol, service,
method and code; login outcomes, the lockout, the shed call and the breaker are counted; consumer lag and the
outbox backlog are exported; the view's projection lag, consumer lag and dead letters; and no token,
password, banking id or other id appears anywhere in the scrape."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bank.customer.v1 import customer_service_pb2 as customer_msgs
from tests.integration.test_member_service import PASSWORD, System, eventually
from tests.integration.test_my_accounts_service import ACCOUNT_TOPIC, ViewSystem, account_number, opened

pytestmark = pytest.mark.kafka
MEMBER = "bank.member.v1.MemberService"
JWT = re.compile(r"[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def scrape(url: str) -> tuple[str, dict[tuple[str, frozenset], float]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def rest_login(base: str, banking_id: str, password: str) -> tuple[int, dict]:
    body = json.dumps({"bankingId": banking_id, "password": password}).encode()
    request = urllib.request.Request(f"{base}/v1/login", body, {"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_metrics_move_with_calls_and_carry_no_secret(service_factory) -> None:
    system = System(
        service_factory,
        LOCKOUT_MAX_FAILURES="2",
        BREAKER_THRESHOLD="1",  # nobody serves the snapshot: the first login opens the breaker
        THROTTLE_ID_CAPACITY="4",
        THROTTLE_ID_PER_SECOND="0.01",
    )
    customer_id = system.register()
    member = system.enroll(customer_id, "metric01")

    secrets = {PASSWORD, "wrong passphrase 1", "metric01", "nobody99", customer_id, member.member_id}
    secrets.add(system.login("metric01").access_token)  # gRPC, OK
    status, answer = rest_login(system.member_service.rest_url, "metric01", PASSWORD)  # REST, OK
    assert status == 200, answer
    secrets |= {answer["accessToken"], answer["refreshToken"]}
    for _ in range(2):  # gRPC, UNAUTHENTICATED: wrong password twice locks the member
        system.refused(system.login, "metric01", "wrong passphrase 1")
    for _ in range(4):  # REST, 401: unknown banking id
        assert rest_login(system.member_service.rest_url, "nobody99", PASSWORD)[0] == 401
    assert rest_login(system.member_service.rest_url, "nobody99", PASSWORD)[0] == 429  # throttled: shed

    def member_metrics_moved() -> None:
        text, samples = scrape(system.member_service.metrics_url)
        count = "bank_rpc_duration_seconds_count"
        login = {"service": MEMBER, "method": "Login"}
        assert sample(samples, count, protocol="grpc", code="OK", **login) == 1
        assert sample(samples, count, protocol="rest", code="OK", **login) == 1
        assert sample(samples, count, protocol="grpc", code="UNAUTHENTICATED", **login) == 2
        assert sample(samples, count, protocol="rest", code="UNAUTHENTICATED", **login) == 4
        assert sample(samples, count, protocol="rest", code="RESOURCE_EXHAUSTED", **login) == 1
        assert sample(samples, count, protocol="grpc", code="OK", service=MEMBER, method="EnrollMember") >= 1
        assert sample(samples, "bank_rpc_duration_seconds_bucket", protocol="rest", code="OK", le="+Inf", **login) == 1
        assert sample(samples, "bank_rpc_shed_total", protocol="rest", **login) == 1
        assert sample(samples, "bank_rpc_shed_total", protocol="grpc", **login) is None
        attempts = "bank_login_attempts_total"
        assert sample(samples, attempts, outcome="success", reason="") == 2
        assert sample(samples, attempts, outcome="failure", reason="wrong_password") == 2
        assert sample(samples, attempts, outcome="failure", reason="unknown_banking_id") == 4
        assert sample(samples, attempts, outcome="failure", reason="locked") == 0
        assert sample(samples, "bank_member_lockouts_total", kind="temporary") == 1
        assert sample(samples, "bank_circuit_breaker_state", circuit="my_accounts", state="opened") == 1
        assert sample(samples, "bank_circuit_breaker_state", circuit="my_accounts", state="closed") == 0
        assert sample(samples, "bank_password_hash_capacity") >= 1
        assert sample(samples, "bank_outbox_unsent_events") is not None
        group = system.member_service.env["MEMBER_KAFKA_GROUP_ID"]
        lags = [
            v
            for (name, labels), v in samples.items()
            if name == "bank_kafka_consumer_lag_messages" and dict(labels)["group"] == group
        ]
        assert lags and all(v >= 0 for v in lags)
        assert_no_secret(text, secrets)

    eventually(member_metrics_moved, timeout=30)

    system.customers.GetCustomer(customer_msgs.GetCustomerRequest(customer_id=customer_id), timeout=5)
    text, samples = scrape(system.customer_service.metrics_url)
    customer = {"protocol": "grpc", "service": "bank.customer.v1.CustomerService"}
    assert sample(samples, "bank_rpc_duration_seconds_count", code="OK", method="RegisterCustomer", **customer) == 1
    assert sample(samples, "bank_rpc_duration_seconds_count", code="OK", method="GetCustomer", **customer) == 1
    assert sample(samples, "bank_outbox_unsent_events") is not None
    assert_no_secret(text, secrets)


def assert_no_secret(text: str, secrets: set[str]) -> None:
    for secret in secrets:
        assert secret and secret not in text, "a secret or an id is in the scrape"
    # nor anything shaped like a JWT, a UUID or a refresh token in a label value
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            for value in s.labels.values():
                assert not JWT.search(value) and not UUID.search(value) and len(value) <= 100, value


def test_view_metrics_projection_lag_consumer_lag_and_dead_letters(service_factory, kafka: str) -> None:
    system = ViewSystem(service_factory, kafka)
    customer_id = system.register()
    number = account_number()
    system.publish(customer_id, opened(customer_id, number))
    system.publish(customer_id, opened(customer_id, number), payload=b"\xff\xfe not protobuf")
    group = system.view_service.env["MY_ACCOUNTS_KAFKA_GROUP_ID"]
    topic = system.view_service.env["KAFKA_TOPIC_PREFIX"] + ACCOUNT_TOPIC

    def view_metrics_moved() -> None:
        text, samples = scrape(system.view_service.metrics_url)
        assert (
            sample(samples, "bank_kafka_dlq_messages_total", group=group, topic=topic, reason="undecodable-payload")
            == 1
        )
        assert sample(samples, "bank_kafka_dlq_messages_total", group=group, topic=topic, reason="handler-failed") == 0
        assert sample(samples, "bank_projection_lag_seconds", projection="my_accounts") == 0  # caught up
        lags = {
            dict(labels)["partition"]: v
            for (name, labels), v in samples.items()
            if name == "bank_kafka_consumer_lag_messages" and dict(labels)["topic"] == topic
        }
        assert lags and set(lags.values()) == {0}
        assert_no_secret(text, {customer_id, number})

    eventually(view_metrics_moved, timeout=30)
