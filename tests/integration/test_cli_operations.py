"""The operator CLI's day-to-day commands against a system started by `bank up` (its own topic prefix, var
directory and ports): customers, members, accounts and money through the services' APIs, the outbox status,
dead letters listed and redriven once, the view reconciled with its source and rebuilt from the earliest
offset while the balances stay right."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import Producer

from services.cli.registry import SERVICES
from tests.conftest import free_port
from tests.integration.test_cli import bank
from tests.kafka_auth import admin

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"


def system_env(tmp_path: Path, kafka: str) -> dict[str, str]:
    rest, internal = free_port(), free_port()
    return {
        **os.environ,
        "BANK_VAR_DIR": str(tmp_path / "var"),
        **{spec.port_env: str(free_port()) for spec in SERVICES},
        **{f"{spec.name.upper()}_REST_PORT": str(free_port()) for spec in SERVICES},
        **{f"{spec.name.upper()}_METRICS_PORT": str(free_port()) for spec in SERVICES},
        "MEMBER_KEYS_PORT": str(rest),
        "MEMBER_JWKS_URL": f"http://127.0.0.1:{rest}/.well-known/jwks.json",
        "MY_ACCOUNTS_INTERNAL_PORT": str(internal),
        "MY_ACCOUNTS_ADDR": f"127.0.0.1:{internal}",
        "HASH_PROFILE": "cheap",
        "THROTTLE_ID_CAPACITY": "100",  # this test logs the same member in many times
        "LOCKOUT_MAX_FAILURES": "3",
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_TOPIC_PREFIX": f"cli{uuid.uuid4().hex[:8]}.",  # this test's topics: replays see only its events
        "SHUTDOWN_GRACE_SECONDS": "2",
    }


def ok(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    """A --json command that must succeed: its parsed output."""
    result = bank(*args, "--json", env=env, input=stdin)
    assert result.returncode == 0, f"bank {' '.join(args)}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Repeat until `check` returns something truthy (the services learn of each other from Kafka)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not done after {timeout} s"
        time.sleep(0.5)


def attempt(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    result = bank(*args, "--json", env=env, input=stdin)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_operators_run_the_bank_from_the_cli(tmp_path: Path, kafka: str) -> None:
    env = system_env(tmp_path, kafka)
    try:
        up = bank("up", "--no-gateway", env=env)
        assert up.returncode == 0, up.stdout + up.stderr

        customer = ok("customer", "register", "Kim", env=env)["customerId"]
        assert ok("customer", "show", customer, env=env)["status"] == "CUSTOMER_STATUS_NORMAL"
        banking_id = f"cli{uuid.uuid4().hex[:8]}"
        enroll = ("member", "enroll", customer, banking_id, "--password-stdin")
        member = until(lambda: attempt(*enroll, env=env, stdin=PASSWORD + "\n"), "enroll")
        as_member = ("--banking-id", banking_id, "--password-stdin")
        opened = until(
            lambda: attempt("account", "open", customer, "SAVINGS", *as_member, env=env, stdin=PASSWORD), "open"
        )
        number = opened["accountNumber"]
        assert ok("account", "deposit", number, "5000", *as_member, env=env, stdin=PASSWORD)["balance"] == "5000"
        assert ok("account", "withdraw", number, "1000", *as_member, env=env, stdin=PASSWORD)["balance"] == "4000"
        refused = bank("account", "withdraw", number, "9000", *as_member, env=env, input=PASSWORD)
        assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr

        def listed() -> bool:
            accounts = ok("account", "list", *as_member, env=env, stdin=PASSWORD)["accounts"]
            return [(a["accountNumber"], a["balance"]) for a in accounts] == [(number, "4000")]

        until(listed, "the view shows the balance")

        outboxes = {row["service"]: row for row in ok("outbox", "status", env=env)}
        assert set(outboxes) == {"customer", "member", "account"}
        assert all(row["sent"] > 0 for row in outboxes.values()), outboxes
        pending = lambda: {r["service"]: r["pending"] for r in ok("outbox", "status", env=env)}  # noqa: E731
        until(lambda: pending() == {"customer": 0, "member": 0, "account": 0}, "the outboxes drain")
        assert ok("view", "reconcile", env=env)["differences"] == []

        # A poison record on the account topic: the view sets it aside; listed; redriven once, not twice.
        prefix = env["KAFKA_TOPIC_PREFIX"]
        poison_id = str(uuid.uuid4())
        producer = Producer(admin(kafka))  # the harness, as the broker's super user
        headers = [("ce_id", poison_id.encode()), ("ce_type", b"bank.account.v1.BalanceChanged")]
        producer.produce(
            f"{prefix}bank.account.events.v1", key=customer, value=b"\xff\xff not protobuf", headers=headers
        )
        assert producer.flush(10) == 0

        def dead_letters() -> list[dict[str, Any]]:
            return [d for d in ok("dlq", "list", "--topic", prefix, env=env)["dead_letters"] if d["ce_id"] == poison_id]

        letter = until(dead_letters, "the poison record reaches the DLQ")[0]
        assert letter["reason"] and letter["original"].startswith(f"{prefix}bank.account.events.v1[")
        first = ok("dlq", "redrive", letter["topic"], env=env)
        assert [(d["ce_id"], d["offset"]) for d in first["redriven"]] == [(poison_id, letter["offset"])]
        # Still poison: the view sets the redriven copy aside again. The next redrive offers that copy only,
        # never the letter already redriven.
        copy = until(lambda: [d for d in dead_letters() if d["offset"] != letter["offset"]], "set aside again")[0]
        again = ok("dlq", "redrive", "--dry-run", letter["topic"], env=env)
        assert [d["offset"] for d in again["redriven"]] == [copy["offset"]]

        rebuilt = ok("view", "rebuild", env=env)
        assert rebuilt["events"] > 0 and Path(rebuilt["database"]).exists()
        until(listed, "the rebuilt view shows the balance")
        assert ok("view", "reconcile", env=env)["differences"] == []

        for _ in range(3):  # three wrong passwords lock the member out...
            wrong = bank("account", "list", *as_member, env=env, input="not the password\n")
            assert wrong.returncode == 1 and "UNAUTHENTICATED" in wrong.stderr
        locked = bank("account", "list", *as_member, env=env, input=PASSWORD)
        assert locked.returncode == 1 and "UNAUTHENTICATED" in locked.stderr  # ...even the right one now
        assert ok("member", "unlock", member["memberId"], env=env)["status"] == "MEMBER_STATUS_NORMAL"
        until(listed, "the unlocked member logs in again")
        assert ok("customer", "suspend", customer, env=env)["status"] == "CUSTOMER_STATUS_SUSPENDED"
        assert ok("customer", "reinstate", customer, env=env)["status"] == "CUSTOMER_STATUS_NORMAL"
        assert ok("customer", "terminate", customer, env=env)["status"] == "CUSTOMER_STATUS_TERMINATED"
        unknown = bank("customer", "show", str(uuid.uuid4()), env=env)
        assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr and "Traceback" not in unknown.stderr
    finally:
        down = bank("down", "--keep-kafka", env=env)  # the broker is the test run's, shared
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.redis
def test_a_view_on_redis_is_rebuilt_under_a_new_key_prefix(tmp_path: Path, kafka: str, redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    env = {**system_env(tmp_path, kafka), "MY_ACCOUNTS_VIEW_URL": redis_url, "MY_ACCOUNTS_REDIS_PREFIX": prefix}
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        up = bank("up", "--no-gateway", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        customer = ok("customer", "register", "Lee", env=env)["customerId"]
        banking_id = f"cli{uuid.uuid4().hex[:8]}"
        enroll = ("member", "enroll", customer, banking_id, "--password-stdin")
        until(lambda: attempt(*enroll, env=env, stdin=PASSWORD + "\n"), "enroll")
        as_member = ("--banking-id", banking_id, "--password-stdin")
        opened = until(
            lambda: attempt("account", "open", customer, "SAVINGS", *as_member, env=env, stdin=PASSWORD), "open"
        )
        number = opened["accountNumber"]
        assert ok("account", "deposit", number, "2500", *as_member, env=env, stdin=PASSWORD)["balance"] == "2500"

        def listed() -> bool:
            accounts = ok("account", "list", *as_member, env=env, stdin=PASSWORD)["accounts"]
            return [(a["accountNumber"], a["balance"]) for a in accounts] == [(number, "2500")]

        until(listed, "the view on Redis shows the balance")
        assert client.zrange(f"{prefix}:open:{customer}", 0, -1) == [number]

        rebuilt = ok("view", "rebuild", env=env)
        assert rebuilt["store"] == "redis" and rebuilt["database"].startswith(f"{prefix}:gen-")
        assert rebuilt["events"] > 0
        assert client.zrange(f"{rebuilt['database']}:open:{customer}", 0, -1) == [number]  # built beside...
        assert client.zrange(f"{prefix}:open:{customer}", 0, -1) == [number]  # ...the old keys, left in place
        until(listed, "the rebuilt view shows the balance")
        assert ok("view", "reconcile", env=env)["differences"] == []
    finally:
        down = bank("down", "--keep-kafka", env=env)  # the broker is the test run's, shared
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        assert down.returncode == 0, down.stdout + down.stderr
