"""The test harness on the secured event bus: it is the broker's super user (`admin`), grants every test's topic
prefix the services' ACLs, and can act as any one principal (docs/event-bus-security.md)."""

from __future__ import annotations

import os
import subprocess
import threading
from functools import cache
from pathlib import Path
from typing import Any

from adapters.outbound.kafka.security import ADMIN, KafkaAuth

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "scripts" / "kafka-local.sh"


@cache
def credentials_dir() -> Path:
    """KAFKA_CREDENTIALS_DIR, else where scripts/kafka-local.sh keeps them (its `env` says)."""
    if os.environ.get("KAFKA_CREDENTIALS_DIR"):
        return Path(os.environ["KAFKA_CREDENTIALS_DIR"])
    out = subprocess.run(["bash", str(KAFKA_SCRIPT), "env"], capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Path(values["KAFKA_CREDENTIALS_DIR"])


def auth() -> KafkaAuth:
    base = KafkaAuth.from_env()
    return KafkaAuth(base.security_protocol, base.mechanism, credentials_dir(), base.ssl_ca_location)


def as_principal(bootstrap: str, name: str) -> dict[str, Any]:
    """Client settings of `bootstrap` authenticated as principal `name`."""
    return {"bootstrap.servers": bootstrap, **auth().client(name)}


def admin(bootstrap: str) -> dict[str, Any]:
    """Client settings of the super user: what the harness itself reads and writes with."""
    return as_principal(bootstrap, ADMIN)


_granted: set[tuple[str, str]] = set()
_lock = threading.Lock()


def grant_prefix(bootstrap: str, prefix: str) -> None:
    """The services' ACLs (and the event topics) for the topics named `prefix` + ..., once per run."""
    from adapters.outbound.kafka.provisioning import admin_client, grant_environment

    with _lock:
        if (bootstrap, prefix) in _granted:
            return
        grant_environment(admin_client(bootstrap, auth()), prefix)
        _granted.add((bootstrap, prefix))


def admin_security() -> dict[str, Any]:
    """The super user's security settings alone (for producer_config/consumer_config/ensure_topics)."""
    return auth().client(ADMIN)
