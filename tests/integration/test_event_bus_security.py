"""The event bus is not open to everyone (issue 15): against the real broker of scripts/kafka-local.sh, a client
without credentials or with a wrong password is refused, and each principal may only do what its ACLs allow
(adapters/outbound/kafka/security.py; docs/event-bus-security.md)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from adapters.outbound.kafka.security import ACCOUNT_TOPIC, CUSTOMER_TOPIC, MEMBER_TOPIC, PRINCIPALS
from tests.kafka_auth import as_principal, grant_prefix

pytestmark = pytest.mark.kafka


@pytest.fixture
def prefix(kafka: str) -> str:
    """A topic prefix of this test's own, with the services' ACLs and event topics."""
    name = f"sec{uuid.uuid4().hex[:8]}."
    grant_prefix(kafka, name)
    return name


def metadata_refused(config: dict) -> set[int]:
    """The error codes librdkafka reported while a Metadata request with `config` failed; fails the test if
    the broker answers it."""
    errors: list[KafkaError] = []
    admin = AdminClient({**config, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=6)
    admin.poll(0)  # serves the error callbacks
    return {e.code() for e in errors}


def produce(config: dict, topic: str) -> KafkaError | None:
    """Publish one record; the delivery report's error (None when the broker acknowledged it)."""
    reports: list[KafkaError | None] = []
    producer = Producer({**config, "enable.idempotence": True, "acks": "all", "message.timeout.ms": 10_000})
    producer.produce(topic, key=b"k", value=b"forged", on_delivery=lambda err, _msg: reports.append(err))
    producer.flush(15)
    assert reports, "no delivery report within 15 s"
    return reports[0]


def first_error(config: dict, group: str, topic: str, timeout: float = 15.0) -> KafkaError | None:
    """Subscribe as `config` in `group` and poll until the broker reports an error (or `timeout`)."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                return msg.error()
            if msg is not None and msg.error() is None:
                return None  # it read a record: allowed
    finally:
        consumer.close()
    return None


def test_a_client_without_credentials_is_refused(kafka: str) -> None:
    metadata_refused({"bootstrap.servers": kafka, "security.protocol": "PLAINTEXT"})


def test_a_wrong_password_is_refused(kafka: str) -> None:
    config = {**as_principal(kafka, "member-relay"), "sasl.password": "not-the-password"}
    assert KafkaError._AUTHENTICATION in metadata_refused(config)


def test_an_unknown_principal_is_refused(kafka: str) -> None:
    config = {**as_principal(kafka, "member-relay"), "sasl.username": "intruder"}
    assert KafkaError._AUTHENTICATION in metadata_refused(config)


def test_the_member_service_cannot_write_the_account_topic(kafka: str, prefix: str) -> None:
    member = as_principal(kafka, "member-relay")
    assert produce(member, prefix + MEMBER_TOPIC) is None  # its own topic: allowed
    error = produce(member, prefix + ACCOUNT_TOPIC)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


@pytest.mark.parametrize("name", [p.name for p in PRINCIPALS if CUSTOMER_TOPIC not in p.writes])
def test_no_one_but_the_customer_service_writes_customer_status(kafka: str, prefix: str, name: str) -> None:
    """A forged `CustomerReinstated` (status NORMAL) un-suspends a customer: only customer-relay (and the
    operator's redrive) may publish there."""
    error = produce(as_principal(kafka, name), prefix + CUSTOMER_TOPIC)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (name, error)


def test_a_consumer_cannot_read_a_topic_it_does_not_consume(kafka: str, prefix: str) -> None:
    member = as_principal(kafka, "member-consumer")
    error = first_error(member, f"member-{uuid.uuid4().hex[:8]}", prefix + ACCOUNT_TOPIC)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_a_consumer_reads_what_it_consumes_only_in_its_own_groups(kafka: str, prefix: str) -> None:
    assert produce(as_principal(kafka, "customer-relay"), prefix + CUSTOMER_TOPIC) is None
    member = as_principal(kafka, "member-consumer")
    assert first_error(member, f"member-{uuid.uuid4().hex[:8]}", prefix + CUSTOMER_TOPIC) is None
    error = first_error(member, f"my_accounts-{uuid.uuid4().hex[:8]}", prefix + CUSTOMER_TOPIC)
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, error


def test_a_consumer_writes_only_its_own_dead_letters(kafka: str, prefix: str) -> None:
    member = as_principal(kafka, "member-consumer")
    own = f"{prefix}{CUSTOMER_TOPIC}.dlq.member-{uuid.uuid4().hex[:6]}"
    other = f"{prefix}{CUSTOMER_TOPIC}.dlq.account-{uuid.uuid4().hex[:6]}"
    from adapters.outbound.kafka.topics import ensure_topics

    ensure_topics(kafka, [own], security={k: v for k, v in member.items() if k != "bootstrap.servers"})
    assert produce(member, own) is None
    with pytest.raises(KafkaException):
        ensure_topics(kafka, [other], security={k: v for k, v in member.items() if k != "bootstrap.servers"})


def test_credentials_are_private_files_and_never_in_the_broker_log(kafka: str) -> None:
    from tests.kafka_auth import credentials_dir

    folder = credentials_dir()
    files = sorted(folder.glob("*/password"))
    assert {f.parent.name for f in files} >= {p.name for p in PRINCIPALS} | {"admin"}
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    log = folder.parent / "logs" / "server.out"  # kafka-local.sh's default layout: <run dir>/{credentials,logs}
    if log.exists():
        text = log.read_text(errors="replace")
        assert not [f.parent.name for f in files if f.read_text().strip() in text]
