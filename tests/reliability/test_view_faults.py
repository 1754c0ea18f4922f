"""The view under the specific faults of issue 4: the relay republishing after a crash between the broker's
ack and its mark (E3), two projector replicas sharing the partitions and one taking over when the other is
killed (E6), reads while the account service is down (D1), and the login breaker closing again."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path

import grpc
import pytest

from bank.account.v1 import account_service_pb2_grpc
from bank.member.v1 import member_pb2
from bank.my_accounts.v1 import my_accounts_service_pb2 as view_msgs
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from tests.integration.kafka_tools import read_records
from tests.reliability.checker import redeliveries, wait_until_converged
from tests.reliability.harness import Harness, databases, deposit, start_with_accounts
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def deposit_everywhere(harness: Harness, tag: str, amount: int = 100) -> None:
    async with grpc.aio.insecure_channel(harness.account.address) as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        await asyncio.gather(*(deposit(harness, stub, c, n, amount, f"{tag}-{n}") for c, n in harness.accounts))


async def test_a_relay_crash_between_ack_and_mark_republishes_and_the_view_applies_once(
    service_factory, kafka: str, tmp_path: Path, topic_prefix: str
) -> None:
    harness = await start_with_accounts(service_factory, "dup")
    try:
        await deposit_everywhere(harness, "first")
        source, view = databases(tmp_path)
        assert (await asyncio.to_thread(wait_until_converged, source, view)).ok
        harness.kill("relay")
        # The state a crash after the broker's ack and before the mark leaves: published rows not marked sent.
        db = sqlite3.connect(source)
        twice = dict(db.execute("select message_key, count(*) from outbox group by message_key").fetchall())
        republished = db.execute("update outbox set sent_at = null").rowcount
        db.commit()
        db.close()
        harness.revive("relay")
        await deposit_everywhere(harness, "second")
        verdict = await asyncio.to_thread(wait_until_converged, source, view)
    finally:
        harness.stop_all()
    counts = dict(sqlite3.connect(source).execute("select message_key, count(*) from outbox group by message_key"))
    records = []
    for customer_id in harness.tokens:  # every event of the customer once, and those of the first round again
        expected = counts.get(customer_id, 0) + twice.get(customer_id, 0)
        found = read_records(kafka, topic_prefix + "bank.account.events.v1", customer_id, expected, timeout=30)
        records += [(r.headers["ce_id"], r.headers["ce_type"]) for r in found]
    record(
        f"E3 relay republished {republished} acknowledged events: "
        f"{redeliveries(records)} duplicates on the topic, each applied once"
    )
    assert redeliveries(records) >= republished > 0  # every event went out twice...
    assert verdict.ok and verdict.events_applied == verdict.events_committed  # ...and was applied once
    balances = dict(sqlite3.connect(view).execute("select account_number, balance from view_accounts").fetchall())
    assert [balances[n] for _, n in harness.accounts] == [200] * len(harness.accounts)  # 100 + 100, not 300


async def test_two_projectors_share_the_partitions_and_one_takes_over_in_seconds(
    service_factory, kafka: str, tmp_path: Path
) -> None:
    harness = await start_with_accounts(service_factory, "rep", projectors=2)
    try:
        await deposit_everywhere(harness, "before")
        source, view = databases(tmp_path)
        assert (await asyncio.to_thread(wait_until_converged, source, view)).ok
        # The second replica's join rebalances the group; the view can converge before that is done.
        owners: list[set[str]] = []
        deadline = time.monotonic() + 30
        while len(owners) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            assigned = [
                set(re.findall(r"bank\.account\.events\.v1\[\d\]", line))
                for line in harness.view.logs().splitlines()
                if "partitions assigned" in line
            ]
            owners = [a for a in assigned if a]
        assert len(owners) >= 2, "both replicas hold account partitions"
        killed_at = time.monotonic()
        harness.kill("projector")  # one replica dies; its partitions must move to the other
        await deposit_everywhere(harness, "after")
        verdict = await asyncio.to_thread(wait_until_converged, source, view, 30.0)
        takeover = time.monotonic() - killed_at
    finally:
        harness.stop_all()
    record(f"E6 replica takeover: view converged {takeover:.1f}s after SIGKILL of one of two projectors")
    assert verdict.ok and verdict.events_applied == verdict.events_committed
    assert takeover < 20  # the session timeout (6 s), not librdkafka's 45 s default


async def test_balances_stay_readable_while_the_account_service_is_down(
    service_factory, kafka: str, tmp_path: Path
) -> None:
    harness = await start_with_accounts(service_factory, "down")
    try:
        await deposit_everywhere(harness, "seed", amount=700)
        source, view = databases(tmp_path)
        assert (await asyncio.to_thread(wait_until_converged, source, view)).ok
        harness.account.stop()
        harness.kill("relay")
        customer_id, number = harness.accounts[0]
        async with grpc.aio.insecure_channel(harness.view.address) as channel:
            stub = my_accounts_service_pb2_grpc.MyAccountsServiceStub(channel)
            response = await stub.ListMyAccounts(
                view_msgs.ListMyAccountsRequest(),
                metadata=[("authorization", f"Bearer {harness.tokens[customer_id]}")],
                timeout=5,
            )
        mine = {a.account_number: a for a in response.accounts}
        assert mine[number].balance == 700 and mine[number].HasField("as_of") and mine[number].sequence == 2
    finally:
        harness.stop_all()


async def test_the_login_breaker_opens_and_closes_again(service_factory, kafka: str) -> None:
    harness = await start_with_accounts(service_factory, "brk", BREAKER_TTL_SECONDS="1")
    try:
        system = harness.system
        banking_id = "brkc0"
        assert system.login(banking_id).accounts_state != member_pb2.ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE
        harness.view.stop()
        states = [system.login(banking_id).accounts_state for _ in range(4)]
        assert states == [member_pb2.ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE] * 4
        harness.view.start()
        deadline = time.monotonic() + 20
        while system.login(banking_id).accounts_state == member_pb2.ACCOUNTS_SNAPSHOT_STATE_UNAVAILABLE:
            assert time.monotonic() < deadline, "the breaker never closed after my_accounts came back"
            await asyncio.sleep(1.2)
    finally:
        harness.stop_all()
