"""Prometheus metrics of every service, defined once (prometheus-client, the process's default registry) and
served on the service's own metrics port (`<SERVICE>_METRICS_PORT`, `GET /metrics`).

Labels are always drawn from small, fixed sets: protocol, gRPC service and method names (only registered
ones), status code names, reason codes, Kafka group, topic and partition. Never a token, an id, an account
number, a banking id or anything else a caller chooses. The domain knows nothing of this module: adapters
count what passes through them (RPCs, events committed, records consumed, rows relayed)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"

# Seconds. Login with OWASP argon2id sits around 50-100 ms; the snapshot deadline is 0.5 s.
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RPC_DURATION = Histogram(
    "bank_rpc_duration_seconds",
    "Time to answer an RPC, by protocol (grpc or rest), gRPC service, method and status code name.",
    ["protocol", "service", "method", "code"],
    buckets=RPC_BUCKETS,
)
RPC_SHED = Counter(
    "bank_rpc_shed_total",
    "RPCs refused with RESOURCE_EXHAUSTED (admission control of the password hasher, throttles).",
    ["protocol", "service", "method"],
)
LOGIN_ATTEMPTS = Counter(
    "bank_login_attempts_total",
    "Login outcomes as the member context records them: outcome success or failure, with the failure reason.",
    ["outcome", "reason"],
)
MEMBER_LOCKOUTS = Counter(
    "bank_member_lockouts_total",
    "Banking members locked after repeated wrong passwords, by kind (temporary or permanent).",
    ["kind"],
)
BREAKER_STATE = Gauge(
    "bank_circuit_breaker_state",
    "1 for the current state of a circuit breaker (closed, opened, half-opened), 0 for the others.",
    ["circuit", "state"],
)
BREAKER_STATES = ("closed", "opened", "half-opened")
OUTBOX_UNSENT = Gauge(
    "bank_outbox_unsent_events",
    "Events committed to this service's outbox and not yet acknowledged by Kafka (sampled by the relay).",
)
OUTBOX_OLDEST_AGE = Gauge(
    "bank_outbox_oldest_unsent_age_seconds",
    "Age of the oldest unsent outbox event, 0 when none is waiting (sampled by the relay).",
)
CONSUMER_LAG = Gauge(
    "bank_kafka_consumer_lag_messages",
    "Records not yet consumed per assigned partition: high watermark minus the consumer's position.",
    ["group", "topic", "partition"],
)
PROJECTION_LAG = Gauge(
    "bank_projection_lag_seconds",
    "How far a read model is behind: 0 when its consumer has caught up, else now minus the time of the last "
    "event it applied (the `as_of` it shows).",
    ["projection"],
)
DLQ_MESSAGES = Counter(
    "bank_kafka_dlq_messages_total",
    "Records this process sent to a dead-letter topic, by consumer group, original topic and reason code.",
    ["group", "topic", "reason"],
)
PASSWORD_HASH_ADMITTED = Gauge(
    "bank_password_hash_admitted",
    "Callers holding one of the password hasher's slots (running or queued).",
)
PASSWORD_HASH_CAPACITY = Gauge(
    "bank_password_hash_capacity",
    "The password hasher's slots (workers + queue); one more caller is shed.",
)


def split_method(full_method: str) -> tuple[str, str]:
    """`/bank.member.v1.MemberService/LogIn` -> (`bank.member.v1.MemberService`, `LogIn`)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def observe_rpc(protocol: str, full_method: str, code: str, seconds: float) -> None:
    """One answered RPC. `full_method` must be a registered method (never a path a caller made up)."""
    service, method = split_method(full_method)
    RPC_DURATION.labels(protocol, service, method, code).observe(seconds)
    if code == RESOURCE_EXHAUSTED:
        RPC_SHED.labels(protocol, service, method).inc()


def set_breaker_state(circuit: str, state: str) -> None:
    for candidate in BREAKER_STATES:
        BREAKER_STATE.labels(circuit, candidate).set(1 if candidate == state else 0)


def watch_password_hasher(admitted: Callable[[], float], capacity: float) -> None:
    PASSWORD_HASH_ADMITTED.set_function(admitted)
    PASSWORD_HASH_CAPACITY.set(capacity)


class MetricsServer:
    """`GET /metrics` on host:port in a daemon thread (prometheus-client's own server); port 0: none."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = None
        if port:
            self._server, _thread = start_http_server(port, addr=host, registry=REGISTRY)

    @property
    def enabled(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
