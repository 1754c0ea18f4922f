"""Settings every service reads from the environment, at call time (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from adapters.outbound.kafka.security import KafkaAuth

# The principal each service's consumer authenticates as (adapters/outbound/kafka/security.py); relays are
# `<service>-relay`.
CONSUMER_PRINCIPALS = {
    "member": "member-consumer",
    "account": "account-consumer",
    "my_accounts": "my-accounts-projector",
}


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


# The member service's keys listener: the JWKS and the discovery document, nothing else (no Login there), so
# token verifiers reach it without reaching the member service's API.
DEFAULT_MEMBER_KEYS_PORT = 8062


def member_jwks_url() -> str:
    """MEMBER_JWKS_URL, else the member service's keys port on this host (MEMBER_KEYS_PORT, the variable the member
    service reads), so `bank up` with another keys port needs nothing more."""
    port = env("MEMBER_KEYS_PORT", str(DEFAULT_MEMBER_KEYS_PORT))
    return env("MEMBER_JWKS_URL", f"http://127.0.0.1:{port}/.well-known/jwks.json")


@dataclass(frozen=True)
class CommonSettings:
    service: str
    database_url: str
    kafka_bootstrap_servers: str
    grpc_host: str
    grpc_port: int
    # The same RPCs over REST/JSON (adapters/inbound/rest), as the gateway transcodes them.
    rest_port: int
    # Prometheus `GET /metrics` (0: none). The relay run alone has its own (default none), so that it can run
    # beside the service on one machine.
    metrics_host: str
    metrics_port: int
    relay_metrics_port: int
    # Traces are exported (OTLP/HTTP) only when an endpoint is set; the exporter reads the rest of OTEL_*.
    otlp_endpoint: str
    log_level: str
    # "inprocess": the relay runs inside the service and is woken by each commit; "off": run it alone
    # with `python -m services.<name> relay`.
    outbox_relay: str
    create_topics: bool
    topic_replication_factor: int
    grace_seconds: float
    drain_delay_seconds: float
    consumer_session_timeout_ms: int
    consumer_instance_id: str
    consumer_group_id: str
    # Namespaces every topic name, so environments (or test runs) can share one Kafka cluster unseen.
    topic_prefix: str
    # How this process's Kafka clients authenticate, and as whom (one principal per role: the outbox relay,
    # the consumer). Passwords are read from files when a client is made, never kept in settings.
    kafka_auth: KafkaAuth
    kafka_relay_principal: str
    kafka_consumer_principal: str

    def kafka_client(self, principal: str) -> dict[str, Any]:
        """librdkafka settings that authenticate as `principal`."""
        return self.kafka_auth.client(principal)

    def topic(self, name: str) -> str:
        """The name of topic `name` in this environment."""
        return self.topic_prefix + name

    @classmethod
    def from_env(
        cls, service: str, default_port: int, default_rest_port: int, default_metrics_port: int = 0
    ) -> CommonSettings:
        prefix = service.upper()
        var_dir = env("VAR_DIR", "var")
        grpc_host = env("GRPC_HOST", "127.0.0.1")
        return cls(
            service=service,
            database_url=env(
                f"{prefix}_DATABASE_URL", env("DATABASE_URL", f"sqlite+aiosqlite:///{var_dir}/{service}.db")
            ),
            kafka_bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            grpc_host=grpc_host,
            grpc_port=int(env(f"{prefix}_GRPC_PORT", env("GRPC_PORT", str(default_port)))),
            rest_port=int(env(f"{prefix}_REST_PORT", str(default_rest_port))),
            metrics_host=env("METRICS_HOST", grpc_host),
            metrics_port=int(env(f"{prefix}_METRICS_PORT", str(default_metrics_port))),
            relay_metrics_port=int(env(f"{prefix}_RELAY_METRICS_PORT", "0")),
            otlp_endpoint=env("OTEL_EXPORTER_OTLP_ENDPOINT", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")),
            log_level=env("LOG_LEVEL", "INFO"),
            outbox_relay=env("OUTBOX_RELAY", "inprocess"),
            create_topics=env("KAFKA_CREATE_TOPICS", "true") == "true",
            topic_replication_factor=int(env("KAFKA_TOPIC_REPLICATION_FACTOR", "1")),
            grace_seconds=float(env("SHUTDOWN_GRACE_SECONDS", "10")),
            drain_delay_seconds=float(env("SHUTDOWN_DRAIN_DELAY_SECONDS", "0")),
            consumer_session_timeout_ms=int(env("KAFKA_SESSION_TIMEOUT_MS", "6000")),
            consumer_instance_id=env(f"{prefix}_KAFKA_GROUP_INSTANCE_ID", ""),  # static membership, per replica
            # One group per service (its replicas share the partitions), so the variable is per service too:
            # a single KAFKA_GROUP_ID shared by several services would split topics between them.
            consumer_group_id=env(f"{prefix}_KAFKA_GROUP_ID", service),
            topic_prefix=env("KAFKA_TOPIC_PREFIX", ""),
            kafka_auth=KafkaAuth.from_env(),
            kafka_relay_principal=env(f"{prefix}_KAFKA_RELAY_PRINCIPAL", f"{service.replace('_', '-')}-relay"),
            kafka_consumer_principal=env(
                f"{prefix}_KAFKA_CONSUMER_PRINCIPAL", CONSUMER_PRINCIPALS.get(service, f"{service}-consumer")
            ),
        )
