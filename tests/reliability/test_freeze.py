"""A frozen account service (SIGSTOP: swapped out, a GC storm, a debugger) under load, for longer than its
clients' deadlines, serves again as soon as it resumes. When it resumes every waiting call's deadline has
passed at once, so its handlers are cancelled wherever they stand: waiting for the write turn, opening a
transaction, inside a statement, committing. A cancelled unit of work that kept its write turn or left a
transaction open on a closed SQLite connection (see RollbackOnClose in adapters/outbound/sqlalchemy/engine.py)
once stalled every later deposit; E11 met it by chance (CI, seed 1), this test meets it every time.

Bounded: FREEZES (default 6) freezes of FREEZE_SECONDS (default 2), at most 6,000 deposits, 30 s of waiting
for recovery after each."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import grpc
import pytest

from bank.account.v1 import account_service_pb2_grpc
from tests.reliability.harness import converged, deposit, source_balances, start_with_accounts
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
FREEZES = int(os.environ.get("FREEZES", "6"))
FREEZE_SECONDS = float(os.environ.get("FREEZE_SECONDS", "2"))
# Each freeze cancels the handlers in flight (one per client) at whatever point they stand.
CLIENTS, DEADLINE, MAX_DEPOSITS, BETWEEN = 16, 0.5, 6000, 150


async def test_a_frozen_account_service_serves_again_when_it_resumes(
    service_factory, kafka: str, tmp_path: Path
) -> None:
    rng = random.Random(11)
    harness = await start_with_accounts(service_factory, "frz")
    done = 0
    stop = asyncio.Event()
    try:
        async with grpc.aio.insecure_channel(harness.account.address) as channel:
            stub = account_service_pb2_grpc.AccountServiceStub(channel)

            async def client(c: int) -> None:
                nonlocal done
                for i in range(c, MAX_DEPOSITS, CLIENTS):
                    if stop.is_set():
                        return
                    customer_id, number = rng.choice(harness.accounts)
                    await deposit(harness, stub, customer_id, number, rng.randint(1, 10_000), f"frz-{i}", DEADLINE)
                    done += 1

            async def freeze() -> list[float]:
                recoveries = []
                for _ in range(FREEZES):
                    at = done
                    while done < at + BETWEEN:  # noqa: ASYNC110 - polling the clients' plain counter
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(harness.pause, "account", FREEZE_SECONDS)
                    resumed, at_resume = time.monotonic(), done
                    while done < at_resume + BETWEEN and time.monotonic() < resumed + 30:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                    recoveries.append(time.monotonic() - resumed)
                    if recoveries[-1] >= 30:
                        break
                stop.set()
                return recoveries

            clients = [asyncio.create_task(client(c)) for c in range(CLIENTS)]
            recoveries = await freeze()
            failures = [o for o in await asyncio.gather(*clients, return_exceptions=True) if o is not None]
        verdict = await converged(tmp_path)
    finally:
        harness.stop_all()
    balances = source_balances(tmp_path)
    record(
        f"Freeze: account service SIGSTOPped {len(recoveries)} times for {FREEZE_SECONDS:g}s under {CLIENTS} clients "
        f"({DEADLINE:g} s deadlines); {BETWEEN} more deposits within {max(recoveries):.1f}s of each resume; "
        f"{done} deposits in all, "
        f"lost={verdict.lost} mismatched={len(verdict.mismatched)}"
    )
    assert max(recoveries) < 10, f"after a resume, {BETWEEN} deposits took {recoveries}s"
    assert not failures, failures[:1]
    assert {n: balances[n] for n in harness.deposited} == harness.deposited
    assert verdict.ok, verdict.mismatched[:5]
