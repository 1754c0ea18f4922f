"""E11 under faults (issue 4; reliability notes E3, E4, D1): thousands of balance changes over 100 accounts
while the account service, its outbox relay and the view's projector are each SIGKILLed at random moments
and restarted, or frozen (SIGSTOP) for 20 s and resumed; then nothing is lost, nothing is invented, every
account in the view equals the source, and the view converges within 30 s of the last fault. Seeded, bounded
in count and time, loopback only.

E11_EVENTS (default 10,000), E11_SEEDS (default "1,2,3"), E11_KILLS (default 5), E11_PAUSES (default 1) and
E11_PAUSE_SECONDS (default 20) size it."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from pathlib import Path

import grpc
import pytest

from bank.account.v1 import account_service_pb2_grpc
from tests.integration.kafka_tools import read_records
from tests.reliability.checker import redeliveries
from tests.reliability.harness import Harness, converged, databases, deposit, source_balances, start_with_accounts
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
EVENTS = int(os.environ.get("E11_EVENTS", "10000"))
SEEDS = [int(s) for s in os.environ.get("E11_SEEDS", "1,2,3").split(",")]
KILLS = int(os.environ.get("E11_KILLS", "5"))
PAUSES = int(os.environ.get("E11_PAUSES", "1"))  # SIGSTOP ... SIGCONT of a random target
PAUSE_SECONDS = float(os.environ.get("E11_PAUSE_SECONDS", "20"))
CONCURRENCY = 16


async def drive(harness: Harness, rng: random.Random) -> None:
    """EVENTS deposits spread over the accounts by CONCURRENCY clients; the kills happen meanwhile."""
    plan = [rng.choice(harness.accounts) for _ in range(EVENTS)]
    amounts = [rng.randint(1, 10_000) for _ in range(EVENTS)]
    kill_at = sorted(rng.sample(range(EVENTS // 10, EVENTS - EVENTS // 10), KILLS + PAUSES))
    targets = [rng.choice(["account", "relay", "projector"]) for _ in range(KILLS + PAUSES)]
    pauses = set(rng.sample(range(KILLS + PAUSES), PAUSES))
    done = 0
    async with grpc.aio.insecure_channel(harness.account.address) as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)

        async def worker(indexes: list[int]) -> None:
            nonlocal done
            for i in indexes:
                customer_id, number = plan[i]
                await deposit(harness, stub, customer_id, number, amounts[i], f"e11-{i}")
                done += 1

        async def killer() -> None:
            for n, (at, target) in enumerate(zip(kill_at, targets, strict=True)):
                while done < at:  # noqa: ASYNC110 - polling the workers' plain counter
                    await asyncio.sleep(0.01)
                if n in pauses:
                    await asyncio.to_thread(harness.pause, target, PAUSE_SECONDS)
                    continue
                await asyncio.to_thread(harness.kill, target)
                await asyncio.sleep(rng.uniform(0.1, 1.5))
                await asyncio.to_thread(harness.revive, target)

        workers = [worker(list(range(w, EVENTS, CONCURRENCY))) for w in range(CONCURRENCY)]
        await asyncio.gather(killer(), *workers)


@pytest.mark.parametrize("seed", SEEDS)
async def test_nothing_lost_nothing_doubled_under_kills(
    service_factory, kafka: str, tmp_path: Path, topic_prefix: str, seed: int
) -> None:
    rng = random.Random(seed)
    harness = await start_with_accounts(service_factory, f"e11s{seed}")
    try:
        started = time.monotonic()
        await drive(harness, rng)
        load_seconds = time.monotonic() - started
        verdict = await converged(tmp_path)
    finally:
        harness.stop_all()
    balances = source_balances(tmp_path)
    source, _view = databases(tmp_path)
    counts = dict(sqlite3.connect(source).execute("select message_key, count(*) from outbox group by message_key"))
    records = []
    for customer_id in harness.tokens:  # at least each committed event once (a busy machine reads slowly)
        found = read_records(kafka, topic_prefix + "bank.account.events.v1", customer_id, counts.get(customer_id, 0))
        records += [(r.headers["ce_id"], r.headers["ce_type"]) for r in found]
    record(
        f"E11 seed={seed}: {EVENTS} deposits in {load_seconds:.1f}s over {len(harness.accounts)} accounts; "
        f"kills={harness.kills}; committed={verdict.events_committed} applied={verdict.events_applied} "
        f"lost={verdict.lost} phantom={verdict.phantom_accounts} ahead={verdict.ahead} "
        f"mismatched={len(verdict.mismatched)} redeliveries_on_topic={redeliveries(records)} "
        f"converged_in={verdict.seconds_to_converge:.2f}s"
    )
    assert len(harness.kills) == KILLS + PAUSES
    assert verdict.ok, verdict.mismatched[:5]
    assert verdict.seconds_to_converge <= 30
    # Money: each deposit the client saw succeed is in the source exactly once, retries and kills included.
    assert {n: balances[n] for n in harness.deposited} == harness.deposited
    assert verdict.events_committed == len(harness.accounts) + EVENTS  # one AccountOpened each + one per deposit
