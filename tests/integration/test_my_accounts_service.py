"""The my_accounts view as operators run it, fed by real Kafka events: it answers from the view alone with
`as_of` and sequences, applies only newer changes, refuses tokens it should refuse, serves the snapshot
member asks for at login, sends poison to the DLQ, and a new consumer group rebuilds the same view. The same
happy path runs with the view kept in Redis instead of SQLite (MY_ACCOUNTS_VIEW_URL=redis://...)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import redis
from confluent_kafka import Producer

from adapters.common.protobuf import timestamp
from adapters.inbound.kafka.runner import dlq_topic
from bank.account.v1 import events_pb2 as account_pb
from bank.customer.v1 import customer_service_pb2 as customer_msgs
from bank.member.v1 import member_pb2
from bank.member.v1 import member_service_pb2 as member_msgs
from bank.my_accounts.v1 import my_accounts_service_pb2 as msgs
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from tests.conftest import REDIS_SCRIPT, free_port
from tests.databases import BACKENDS
from tests.integration.kafka_tools import read_records
from tests.integration.test_member_service import System, eventually
from tests.kafka_auth import admin

pytestmark = pytest.mark.kafka
ACCOUNT_TOPIC = "bank.account.events.v1"


class ViewSystem(System):
    """customer + member + my_accounts, and an account event producer standing in for the account service."""

    def __init__(self, service_factory, kafka: str, **view_env: str) -> None:  # type: ignore[no-untyped-def]
        self.internal_port = free_port()
        super().__init__(service_factory, MY_ACCOUNTS_ADDR=f"127.0.0.1:{self.internal_port}", BREAKER_THRESHOLD="2")
        rest = self.member_service.env["MEMBER_KEYS_PORT"]
        self.view_service = service_factory(
            "my_accounts",
            MY_ACCOUNTS_INTERNAL_PORT=str(self.internal_port),
            MEMBER_JWKS_URL=f"http://127.0.0.1:{rest}/.well-known/jwks.json",
            **view_env,
        )
        self.view_service.start()
        self.view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(grpc.insecure_channel(self.view_service.address))
        self.producer = Producer({**admin(kafka), "enable.idempotence": True, "acks": "all"})
        self.kafka = kafka

    def publish(self, customer_id: str, event, ce_id: str | None = None, payload: bytes | None = None) -> str:  # type: ignore[no-untyped-def]
        ce_id = ce_id or str(uuid.uuid4())
        headers = {"ce_id": ce_id, "ce_type": event.DESCRIPTOR.full_name, "ce_specversion": "1.0"}
        value = payload if payload is not None else event.SerializeToString()
        self.producer.produce(
            self.view_service.env["KAFKA_TOPIC_PREFIX"] + ACCOUNT_TOPIC,
            key=customer_id.encode(),
            value=value,
            headers=list(headers.items()),
        )
        assert self.producer.flush(10) == 0
        return ce_id

    def list(self, token: str, timeout: float = 5, **fields) -> msgs.ListMyAccountsResponse:  # type: ignore[no-untyped-def]
        return self.view.ListMyAccounts(
            msgs.ListMyAccountsRequest(**fields), metadata=[("authorization", f"Bearer {token}")], timeout=timeout
        )


def account_number() -> str:
    """A number no other test (or earlier run on the same broker) has used."""
    return "110" + str(uuid.uuid4().int)[:11]


def at(second: int) -> datetime:
    return datetime(2026, 11, 26, 9, 0, second, tzinfo=UTC)


def opened(customer_id: str, number: str) -> account_pb.AccountOpened:
    return account_pb.AccountOpened(
        account_number=number, customer_id=customer_id, product_code="SAVINGS", sequence=1, occurred_at=timestamp(at(0))
    )


def changed(customer_id: str, number: str, balance: int, sequence: int) -> account_pb.BalanceChanged:
    return account_pb.BalanceChanged(
        account_number=number,
        customer_id=customer_id,
        balance=balance,
        delta=0,
        sequence=sequence,
        kind=account_pb.BALANCE_CHANGE_KIND_DEPOSIT,
        occurred_at=timestamp(at(sequence)),
    )


@pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)
def test_the_view_answers_from_events_and_applies_only_newer_changes(
    service_factory, kafka: str, database_backend: str
) -> None:
    system = ViewSystem(service_factory, kafka)
    answers_from_events_with_only_newer_changes(system, "viewer01")
    sqlite_file = (Path(system.view_service.env["VAR_DIR"]) / "my_accounts.db").exists()
    assert sqlite_file == (database_backend == "sqlite")  # SQL: a file under VAR_DIR by default, else PostgreSQL


@pytest.mark.redis
def test_the_view_on_redis_answers_from_events_and_applies_only_newer_changes(
    service_factory, kafka: str, redis_url: str
) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    system = ViewSystem(service_factory, kafka, MY_ACCOUNTS_VIEW_URL=redis_url, MY_ACCOUNTS_REDIS_PREFIX=prefix)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        customer_id, a, b = answers_from_events_with_only_newer_changes(system, "viewer05")
        # It really is Redis: the customer's open accounts in their sorted set, each account's hash, the inbox;
        # and no SQLite file for the view.
        assert client.zrange(f"{prefix}:open:{customer_id}", 0, -1) == [a, b]
        assert client.hmget(f"{prefix}:account:{a}", ["balance", "sequence"]) == ["12000", "3"]
        assert client.get(f"{prefix}:caught_up_at") is not None
        assert any(True for _ in client.scan_iter(match=f"{prefix}:inbox:*"))
        assert not (Path(system.view_service.env["VAR_DIR"]) / "my_accounts.db").exists()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.mark.redis
def test_the_view_on_redis_waits_out_a_redis_outage(service_factory, kafka: str, tmp_path: Path) -> None:
    """Redis stops under the running service: queries answer UNAVAILABLE, the projector holds its records
    (nothing to the DLQ, no offsets committed) and applies them once Redis is back."""
    port = free_port()
    own = {**os.environ, "REDIS_PORT": str(port), "REDIS_RUN_DIR": str(tmp_path / "redis")}  # a server to stop

    def redis_local(command: str) -> None:
        subprocess.run(["bash", str(REDIS_SCRIPT), command], env=own, check=True, capture_output=True)

    redis_local("start")
    try:
        system = ViewSystem(service_factory, kafka, MY_ACCOUNTS_VIEW_URL=f"redis://127.0.0.1:{port}/0")
        customer_id = system.register()
        system.enroll(customer_id, "viewer06")
        token = system.login("viewer06").access_token
        number = account_number()
        system.publish(customer_id, opened(customer_id, number))
        eventually(lambda: assert_accounts(system.list(token), [(number, 0, 1)]))

        redis_local("stop")
        system.refused(system.list, token, code=grpc.StatusCode.UNAVAILABLE)
        system.publish(customer_id, changed(customer_id, number, 4_200, 2))
        time.sleep(2)  # the projector meets the outage and keeps retrying the record
        redis_local("start")  # the same data (append-only file) on the same port
        eventually(lambda: assert_accounts(system.list(token), [(number, 4_200, 2)]))
    finally:
        redis_local("stop")


def answers_from_events_with_only_newer_changes(system: ViewSystem, login_id: str) -> tuple[str, str, str]:
    """The happy path: events in, the latest state out (over the API and in the login's snapshot)."""
    customer_id = system.register()
    system.enroll(customer_id, login_id)
    token = system.login(login_id).access_token
    a, b = sorted([account_number(), account_number()])
    system.publish(customer_id, opened(customer_id, a))
    system.publish(customer_id, opened(customer_id, b))
    system.publish(customer_id, changed(customer_id, a, 5_000, 2))
    duplicate = system.publish(customer_id, changed(customer_id, a, 12_000, 3))
    system.publish(customer_id, changed(customer_id, a, 12_000, 3), ce_id=duplicate)  # the relay published it twice
    system.publish(customer_id, changed(customer_id, a, 5_000, 2))  # a late replay of an older change: ignored

    def shows_the_latest() -> None:
        response = system.list(token, account_number=a, min_sequence=3)
        assert [(x.account_number, x.balance, x.sequence) for x in response.accounts] == [(a, 12_000, 3), (b, 0, 1)]
        assert response.min_sequence_reached
        assert response.accounts[0].as_of.ToDatetime(tzinfo=UTC) == at(3)

    eventually(shows_the_latest)
    eventually(lambda: assert_fresh(system.list(token)))
    response = system.list(token, account_number=a, min_sequence=4)
    assert not response.min_sequence_reached and response.HasField("view_as_of")

    login = system.login(login_id)  # the snapshot at login comes from the view, over the internal port
    assert login.accounts_state == member_pb2.ACCOUNTS_SNAPSHOT_STATE_FRESH
    assert [(x.account_number, x.balance) for x in login.accounts] == [(a, 12_000), (b, 0)]
    return customer_id, a, b


def test_tokens_are_refused_when_they_should_be(service_factory, kafka: str) -> None:
    system = ViewSystem(service_factory, kafka)
    customer_id = system.register()
    system.enroll(customer_id, "viewer02")
    first, second = system.login("viewer02"), system.login("viewer02")
    system.list(first.access_token)
    for bad in ["", "not.a.jwt", first.access_token + "x", first.refresh_token]:
        with pytest.raises(grpc.RpcError) as refused:
            system.list(bad)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:  # no authorization header at all
        system.view.ListMyAccounts(msgs.ListMyAccountsRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # Logout revokes the session: the view refuses its token once the SessionsRevoked event arrives.
    system.members.Logout(
        member_msgs.LogoutRequest(), metadata=[("authorization", f"Bearer {first.access_token}")], timeout=5
    )
    eventually(lambda: system.refused(system.list, first.access_token), timeout=10)
    system.list(second.access_token)  # another session of the same member is untouched

    system.customers.TerminateCustomer(customer_msgs.TerminateCustomerRequest(customer_id=customer_id), timeout=5)
    eventually(lambda: system.refused(system.list, second.access_token), timeout=10)


def test_login_survives_my_accounts_going_down(service_factory, kafka: str) -> None:
    system = ViewSystem(service_factory, kafka)
    customer_id = system.register()
    system.enroll(customer_id, "viewer03")
    token = system.login("viewer03").access_token
    eventually(lambda: assert_fresh(system.list(token)))  # a new view replays the topics first: STALE until then
    assert system.login("viewer03").accounts_state == member_pb2.ACCOUNTS_SNAPSHOT_STATE_FRESH
    system.view_service.stop()
    for _ in range(4):  # the breaker opens after 2 failures; every login still succeeds, quickly
        started = time.monotonic()
        response = system.login("viewer03")
        assert response.accounts_state == member_pb2.ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE and response.access_token
        assert time.monotonic() - started < 2.0


def test_poison_goes_to_the_dlq_and_a_new_group_rebuilds_the_same_view(service_factory, kafka: str) -> None:
    system = ViewSystem(service_factory, kafka)
    customer_id = system.register()
    system.enroll(customer_id, "viewer04")
    token = system.login("viewer04").access_token
    number = account_number()
    system.publish(customer_id, opened(customer_id, number))
    system.publish(customer_id, changed(customer_id, number, 700, 2), payload=b"\xff\xfe not protobuf")
    system.publish(customer_id, changed(customer_id, number, 900, 3))
    eventually(lambda: assert_accounts(system.list(token), [(number, 900, 3)]))
    group = system.view_service.env["MY_ACCOUNTS_KAFKA_GROUP_ID"]
    [dead] = read_records(
        kafka, dlq_topic(system.view_service.env["KAFKA_TOPIC_PREFIX"] + ACCOUNT_TOPIC, group), customer_id, expected=1
    )
    assert dead.headers["dlq-reason"] == "undecodable-payload"

    rebuilt = service_factory(
        "my_accounts",
        MY_ACCOUNTS_INTERNAL_PORT=str(free_port()),
        MEMBER_JWKS_URL=system.view_service.env["MEMBER_JWKS_URL"],
        VAR_DIR=system.view_service.env["VAR_DIR"] + "-rebuilt",  # an empty database...
        # ...and a new group, from the earliest offset (named after the service: its principal joins only those)
        MY_ACCOUNTS_KAFKA_GROUP_ID=f"my_accounts-rebuild-{uuid.uuid4().hex[:8]}",
    )
    rebuilt.start()
    rebuilt_view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(grpc.insecure_channel(rebuilt.address))

    def same_view() -> None:
        fresh = rebuilt_view.ListMyAccounts(
            msgs.ListMyAccountsRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=5
        )
        assert list(fresh.accounts) == list(system.list(token).accounts)

    eventually(same_view)


def assert_fresh(response: msgs.ListMyAccountsResponse) -> None:
    assert not response.stale


def assert_accounts(response: msgs.ListMyAccountsResponse, expected: list[tuple[str, int, int]]) -> None:
    assert [(a.account_number, a.balance, a.sequence) for a in response.accounts] == expected
