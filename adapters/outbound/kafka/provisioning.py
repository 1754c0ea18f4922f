"""Make a broker match the principal table of security.py, as its super user: a SCRAM credential for every
principal (a random password generated on first use into the credentials folder), the event topics of an
environment (a topic prefix) and the ACLs of every principal in it. Idempotent: run it at every start.

Used by scripts/kafka-local.sh (through scripts/kafka_principals.py), by the test harness for each test's
topic prefix, and by the CLI for KAFKA_TOPIC_PREFIX. In the cluster Strimzi's User Operator does the same from
the generated KafkaUser resources."""

from __future__ import annotations

import logging
import os
import secrets
import string
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from adapters.outbound.kafka.security import ADMIN, PRINCIPALS, Grant, KafkaAuth
from adapters.outbound.kafka.topics import EVENT_TOPICS, ensure_topics

log = logging.getLogger(__name__)

ALPHABET = string.ascii_letters + string.digits
SCRAM_ITERATIONS = 8192  # Kafka's minimum is 4096


def ensure_password(auth: KafkaAuth, name: str) -> str:
    """The principal's password, made (32 random alphanumerics, file mode 600) if it has none yet."""
    path = auth.password_file(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(secrets.choice(ALPHABET) for _ in range(32)))
        tmp.replace(path)
    return path.read_text().strip()


def admin_client(bootstrap: str, auth: KafkaAuth | None = None) -> AdminClient:
    auth = auth or KafkaAuth.from_env()
    return AdminClient({"bootstrap.servers": bootstrap, **auth.client(ADMIN)})


def acl_bindings(grant: Grant, principal: str) -> list[AclBinding]:
    kind = ResourceType.TOPIC if grant.kind == "topic" else ResourceType.GROUP
    pattern = ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL
    return [
        AclBinding(
            kind, grant.name, pattern, f"User:{principal}", "*", AclOperation[op.upper()], AclPermissionType.ALLOW
        )
        for op in grant.operations
    ]


def wait_authenticated(admin: AdminClient, timeout: float) -> None:
    """Until the admin's Metadata request succeeds (the broker has started and accepts its credential)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=5)
            return
        except KafkaException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def upsert_users(admin: AdminClient, auth: KafkaAuth) -> None:
    upserts = [
        UserScramCredentialUpsertion(
            p.name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            ensure_password(auth, p.name).encode(),
        )
        for p in PRINCIPALS
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result()


def grant_environment(
    admin: AdminClient, prefix: str = "", *, create_topics: bool = True, replication_factor: int = 1, **topic_args: Any
) -> None:
    """The ACLs of every principal for the topics named `prefix` + ..., and (by default) those topics."""
    unique = {}  # the broker refuses a request that repeats a binding (an operator both reads and writes a topic)
    for b in (b for p in PRINCIPALS for g in p.grants(prefix) for b in acl_bindings(g, p.name)):
        unique[(b.restype, b.name, b.resource_pattern_type, b.principal, b.operation)] = b
    bindings = list(unique.values())
    for future in admin.create_acls(bindings).values():
        future.result()
    if create_topics:
        ensure_topics(admin, [prefix + t for t in EVENT_TOPICS], replication_factor=replication_factor, **topic_args)


def provision(
    bootstrap: str,
    credentials_dir: Path | None = None,
    prefixes: tuple[str, ...] = ("",),
    timeout: float = 60.0,
    replication_factor: int = 1,
) -> None:
    base = KafkaAuth.from_env()
    auth = (
        base
        if credentials_dir is None
        else KafkaAuth(base.security_protocol, base.mechanism, credentials_dir, base.ssl_ca_location)
    )
    admin = admin_client(bootstrap, auth)
    wait_authenticated(admin, timeout)
    upsert_users(admin, auth)
    for prefix in prefixes:
        grant_environment(admin, prefix, replication_factor=replication_factor)
    log.info("%d principals, %d environments provisioned", len(PRINCIPALS), len(prefixes))
