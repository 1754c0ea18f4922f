"""The metrics module and the adapters that feed it: RPC observations (and shed calls), login outcomes and
lockouts from the member context's events, the breaker gauge, the outbox backlog sampled by the relay, the
projection lag of a consumer runner, and the /metrics endpoint. Values are read from the process's registry
as differences, since other tests in the same process may count too."""

from __future__ import annotations

import math
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, insert

from adapters.common import metrics
from adapters.inbound.kafka.runner import KafkaConsumerRunner, _event_time
from adapters.outbound.grpc.accounts_directory import GrpcAccountsDirectory
from adapters.outbound.kafka.relay import KafkaOutboxRelay
from adapters.outbound.metrics import member_events
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.outbox import outbox_table
from domain.member.events import LoginFailed, LoginFailureReason, LoginSucceeded, MemberLocked
from domain.shared.clock import SystemClock
from tests.conftest import free_port

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_split_method() -> None:
    assert metrics.split_method("/bank.member.v1.MemberService/LogIn") == ("bank.member.v1.MemberService", "LogIn")


def test_observe_rpc_by_protocol_service_method_and_code_and_counts_shed_calls() -> None:
    labels = {"protocol": "rest", "service": "bank.test.v1.Svc", "method": "Do"}
    before_ok = value("bank_rpc_duration_seconds_count", **labels, code="OK")
    before_shed = value("bank_rpc_shed_total", **labels)
    before_le = value("bank_rpc_duration_seconds_bucket", **labels, code="OK", le="0.05")

    metrics.observe_rpc("rest", "/bank.test.v1.Svc/Do", "OK", 0.02)
    metrics.observe_rpc("rest", "/bank.test.v1.Svc/Do", "RESOURCE_EXHAUSTED", 0.001)
    metrics.observe_rpc("rest", "/bank.test.v1.Svc/Do", "UNAUTHENTICATED", 0.001)

    assert value("bank_rpc_duration_seconds_count", **labels, code="OK") == before_ok + 1
    assert value("bank_rpc_duration_seconds_bucket", **labels, code="OK", le="0.05") == before_le + 1
    assert value("bank_rpc_duration_seconds_count", **labels, code="RESOURCE_EXHAUSTED") >= 1
    assert value("bank_rpc_shed_total", **labels) == before_shed + 1  # only RESOURCE_EXHAUSTED is shed


def test_login_outcomes_and_lockouts_from_member_events() -> None:
    member_events.initialize()
    assert (
        REGISTRY.get_sample_value("bank_login_attempts_total", {"outcome": "failure", "reason": "customer_not_normal"})
        is not None
    )  # every outcome exists from the start, at 0 or more
    before = {
        "success": value("bank_login_attempts_total", outcome="success", reason=""),
        "wrong": value("bank_login_attempts_total", outcome="failure", reason="wrong_password"),
        "unknown": value("bank_login_attempts_total", outcome="failure", reason="unknown_banking_id"),
        "temporary": value("bank_member_lockouts_total", kind="temporary"),
        "permanent": value("bank_member_lockouts_total", kind="permanent"),
    }
    common = {"event_id": "e", "occurred_at": NOW, "customer_id": "c", "member_id": "m"}
    member_events.count_member_events(
        [
            LoginSucceeded(**common, session_id="s"),
            LoginFailed(**common, reason=LoginFailureReason.WRONG_PASSWORD, consecutive_failures=5),
            LoginFailed(**common, reason=LoginFailureReason.WRONG_PASSWORD, consecutive_failures=6),
            LoginFailed(**common, reason=LoginFailureReason.UNKNOWN_BANKING_ID, consecutive_failures=0),
            MemberLocked(**common, locked_until=NOW + timedelta(minutes=5)),
            MemberLocked(**common, locked_until=None),
        ]
    )
    assert value("bank_login_attempts_total", outcome="success", reason="") == before["success"] + 1
    assert value("bank_login_attempts_total", outcome="failure", reason="wrong_password") == before["wrong"] + 2
    assert value("bank_login_attempts_total", outcome="failure", reason="unknown_banking_id") == before["unknown"] + 1
    assert value("bank_member_lockouts_total", kind="temporary") == before["temporary"] + 1
    assert value("bank_member_lockouts_total", kind="permanent") == before["permanent"] + 1


def test_breaker_state_is_one_hot() -> None:
    metrics.set_breaker_state("unit", "opened")
    assert [value("bank_circuit_breaker_state", circuit="unit", state=s) for s in metrics.BREAKER_STATES] == [0, 1, 0]
    metrics.set_breaker_state("unit", "closed")
    assert [value("bank_circuit_breaker_state", circuit="unit", state=s) for s in metrics.BREAKER_STATES] == [1, 0, 0]


async def test_accounts_directory_exports_its_breaker_state() -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as channel:  # nobody listens there
        directory = GrpcAccountsDirectory(channel, deadline_seconds=0.2, breaker_threshold=2, breaker_ttl_seconds=30)
        assert value("bank_circuit_breaker_state", circuit="my_accounts", state="closed") == 1
        for _ in range(2):
            await directory.snapshot("2d5b6b84-ea31-4287-92fc-5c12b4d6f24e")
        assert await directory.state() == "opened"
        assert value("bank_circuit_breaker_state", circuit="my_accounts", state="opened") == 1
        assert value("bank_circuit_breaker_state", circuit="my_accounts", state="closed") == 0


async def test_relay_samples_the_outbox_backlog(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/outbox.db")
    table = outbox_table(MetaData())
    async with engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
        created = datetime.now(UTC) - timedelta(seconds=30)
        rows = [
            {
                "event_id": f"e{i}",
                "topic": "t",
                "message_key": "k",
                "ce_type": "x",
                "payload": b"",
                "headers": "{}",
                "created_at": created + timedelta(seconds=i),
                "sent_at": created if i == 0 else None,  # the oldest one is sent already
            }
            for i in range(4)
        ]
        await conn.execute(insert(table), rows)
    relay = KafkaOutboxRelay(engine, table, producer=None, clock=SystemClock(), sample_interval=0)  # type: ignore[arg-type]
    await relay._sample_backlog()
    assert value("bank_outbox_unsent_events") == 3
    assert 28 <= value("bank_outbox_oldest_unsent_age_seconds") <= 60
    await engine.dispose()


def test_projection_lag_is_zero_when_caught_up_else_age_of_last_applied_event() -> None:
    runner = KafkaConsumerRunner(None, None, "g", ["t"], {}, lambda: None, projection="unit_view")  # type: ignore[arg-type]
    lag = lambda: value("bank_projection_lag_seconds", projection="unit_view")  # noqa: E731
    assert math.isnan(lag())  # nothing applied, not known to be caught up
    runner.last_event_time = time.time() - 12
    assert 11 <= lag() <= 20
    runner.caught_up = True
    assert lag() == 0


def test_event_time_reads_ce_time() -> None:
    assert _event_time({"ce_time": "2026-01-01T00:00:00Z"}) == NOW.timestamp()
    assert _event_time({"ce_time": "yesterday"}) is None
    assert _event_time({}) is None


def test_metrics_server_serves_the_registry_and_port_zero_serves_nothing() -> None:
    assert not metrics.MetricsServer("127.0.0.1", 0).enabled
    port = free_port()
    server = metrics.MetricsServer("127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.status == 200
            text = response.read().decode()
        assert "# TYPE bank_rpc_duration_seconds histogram" in text
        assert "# TYPE bank_login_attempts_total counter" in text
    finally:
        server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
