"""Who may do what on the event bus, and how a client proves who it is.

One principal per service and role (docs/event-bus-security.md): a relay writes only its own topic; a consumer
reads only the topics it consumes, in its own consumer groups, and writes only its own dead-letter topics
(`<topic>.dlq.<group>`); the operator's CLI reads everything and writes back only what it redrives; `admin`
(the super user: the test harness, the provisioning script) is not listed here. The same table makes the
local broker's ACLs (scripts/kafka_principals.py) and the cluster's KafkaUser resources (scripts/gen_k8s.py).

Clients authenticate with SASL/SCRAM-SHA-512 (over TLS in the cluster: KAFKA_SECURITY_PROTOCOL=SASL_SSL and
KAFKA_SSL_CA_LOCATION). A principal's password is read from `<credentials dir>/<principal>/password` when a
client is made (the layout of a mounted Strimzi KafkaUser Secret), never from a variable, never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.outbound.kafka.topics import EVENT_TOPICS

CUSTOMER_TOPIC, MEMBER_TOPIC, ACCOUNT_TOPIC = EVENT_TOPICS
ADMIN = "admin"  # the super user: test harness and provisioning only, never a service


@dataclass(frozen=True)
class Grant:
    """Operations on one resource: `kind` topic or group; `prefixed` makes `name` a prefix (Kafka's
    PREFIXED pattern), else the exact name."""

    kind: str
    name: str
    operations: tuple[str, ...]
    prefixed: bool = False


@dataclass(frozen=True)
class Principal:
    name: str
    purpose: str
    # (topic, prefixed?) it writes; topics it reads; the consumer-group name prefix it reads with
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    group: str = ""
    # dead-letter topics of its own group, written by its consumer
    dead_letters: bool = False
    # operator extras: read every dead-letter topic, look at (not join) these groups' offsets
    reads_dead_letters: bool = False
    describes_groups: tuple[str, ...] = ()

    def grants(self, prefix: str = "") -> list[Grant]:
        """The ACLs of this principal in the environment whose topic names start with `prefix`."""
        grants = [Grant("topic", prefix + t, ("Write", "Describe", "Create")) for t in self.writes]
        grants += [Grant("topic", prefix + t, ("Read", "Describe")) for t in self.reads]
        if self.group:
            grants.append(Grant("group", self.group, ("Read", "Describe"), prefixed=True))
        if self.dead_letters:
            grants += [
                Grant("topic", dlq_prefix(prefix + t, self.group), ("Write", "Describe", "Create"), prefixed=True)
                for t in self.reads
            ]
        if self.reads_dead_letters:
            grants += [Grant("topic", f"{prefix}{t}.dlq.", ("Read", "Describe"), prefixed=True) for t in EVENT_TOPICS]
        grants += [Grant("group", g, ("Describe",), prefixed=True) for g in self.describes_groups]
        return grants


def dlq_prefix(topic: str, group: str) -> str:
    """The names of `group`'s dead-letter topics of `topic` start with this (see runner.dlq_topic): every
    group named `<group>...` (a test's `member-1a2b`, a rebuild's `my_accounts-2026...`) is covered."""
    return f"{topic}.dlq.{group}"


# The consumer group prefixes are the services' default group ids (their names): a group id that does not start
# with its service's name is refused, so replicas and rebuilds name their groups `<service>-...`.
PRINCIPALS: tuple[Principal, ...] = (
    Principal("customer-relay", "customer's outbox relay", writes=(CUSTOMER_TOPIC,)),
    Principal("member-relay", "member's outbox relay", writes=(MEMBER_TOPIC,)),
    Principal(
        "member-consumer",
        "member's consumer of customer events",
        reads=(CUSTOMER_TOPIC,),
        group="member",
        dead_letters=True,
    ),
    Principal("account-relay", "account's outbox relay", writes=(ACCOUNT_TOPIC,)),
    Principal(
        "account-consumer",
        "account's consumer of customer events",
        reads=(CUSTOMER_TOPIC,),
        group="account",
        dead_letters=True,
    ),
    Principal(
        "my-accounts-projector",
        "my_accounts' projector (every event topic)",
        reads=EVENT_TOPICS,
        group="my_accounts",
        dead_letters=True,
    ),
    Principal(
        "bank-operator",
        "the CLI's operator tools: dlq list/show/redrive, view check/rebuild, the demo's event trail",
        # redrive publishes dead letters back to their original topic
        writes=EVENT_TOPICS,
        reads=EVENT_TOPICS,
        group="bank-",
        reads_dead_letters=True,
        describes_groups=("my_accounts",),
    ),
)
NAMES = tuple(p.name for p in PRINCIPALS)


def principal(name: str) -> Principal:
    for p in PRINCIPALS:
        if p.name == name:
            return p
    raise KeyError(f"unknown Kafka principal {name!r} (not in adapters/outbound/kafka/security.py)")


@dataclass(frozen=True)
class KafkaAuth:
    """How this process's Kafka clients authenticate (from the environment: see from_env)."""

    security_protocol: str  # SASL_PLAINTEXT (loopback), SASL_SSL (cluster) or PLAINTEXT (an unsecured broker)
    mechanism: str
    credentials_dir: Path
    ssl_ca_location: str

    @classmethod
    def from_env(cls) -> KafkaAuth:
        return cls(
            security_protocol=os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            mechanism=os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            credentials_dir=Path(os.environ.get("KAFKA_CREDENTIALS_DIR", "var/kafka/credentials")),
            ssl_ca_location=os.environ.get("KAFKA_SSL_CA_LOCATION", ""),
        )

    def password_file(self, name: str) -> Path:
        return self.credentials_dir / name / "password"

    def client(self, name: str) -> dict[str, Any]:
        """librdkafka settings that authenticate as principal `name` (merge them into a client's config).
        A missing credential is a configuration error naming the file, never the secret."""
        config: dict[str, Any] = {"security.protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            path = self.password_file(name)
            try:
                password = path.read_text().strip()
            except OSError:
                raise RuntimeError(f"no Kafka credential for principal {name!r} at {path}") from None
            config |= {"sasl.mechanism": self.mechanism, "sasl.username": name, "sasl.password": password}
        if self.security_protocol.endswith("SSL") and self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


def client_config(name: str) -> dict[str, Any]:
    """The settings that authenticate as `name`, from this process's environment."""
    return KafkaAuth.from_env().client(name)
