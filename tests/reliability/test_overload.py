"""L2/L3 of the reliability notes, a login flood: three times the member service's measured login capacity,
open loop, for OVERLOAD_SECONDS (default 30). The OWASP argon2id profile, one hashing worker.

What must hold (asserted): every answer is a login or RESOURCE_EXHAUSTED, never INTERNAL, UNKNOWN or anything
else; the excess is shed, each refusal carrying a RetryInfo and "try again in N seconds"; the service logs in
again within 10 s of the end. What is measured (reported, with the notes' targets beside; speed is a figure
here, not a verdict): the capacity, how fast a refusal comes (target p99 <= 50 ms), the admitted p99 against
the nominal one (target <= 2x), RSS growth (target <= 20 %), the time back to nominal latency."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank.member.v1 import member_service_pb2 as msgs
from bank.member.v1 import member_service_pb2_grpc
from tests.integration.test_member_service import PASSWORD, System
from tests.reliability.report import record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
OVERLOAD_SECONDS = float(os.environ.get("OVERLOAD_SECONDS", "30"))
NOMINAL_SECONDS, FACTOR, WORKERS = 6.0, 3.0, 1  # and the default queue: one waiting login per worker
UNLIMITED = "1000000"  # the per-source and per-id throttles stay out of the way: this is the hasher's admission


@dataclass
class Outcomes:
    admitted: list[float] = field(default_factory=list)  # latency (s) of each login
    shed: list[float] = field(default_factory=list)  # latency of each RESOURCE_EXHAUSTED
    other: list[str] = field(default_factory=list)  # anything else: must stay empty
    hints: list[int] = field(default_factory=list)  # RetryInfo seconds of each refusal


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def login(stub: member_service_pb2_grpc.MemberServiceStub, request: msgs.LoginRequest, out: Outcomes) -> None:
    started = time.perf_counter()
    try:
        await stub.Login(request, timeout=10)
        out.admitted.append(time.perf_counter() - started)
    except grpc.aio.AioRpcError as error:
        elapsed = time.perf_counter() - started
        if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            out.other.append(error.code().name)
            return
        out.shed.append(elapsed)
        retry = error_details_pb2.RetryInfo()
        status = rpc_status.from_call(error)
        hinted = status is not None and any(d.Unpack(retry) for d in status.details)
        text = error.details() or ""
        out.hints.append(retry.retry_delay.seconds if hinted and "try again in" in text else 0)


async def closed_loop(stub, request, seconds: float, concurrency: int) -> Outcomes:  # type: ignore[no-untyped-def]
    out = Outcomes()
    end = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < end:
            await login(stub, request, out)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return out


async def open_loop(stub, request, rate: float, seconds: float) -> Outcomes:  # type: ignore[no-untyped-def]
    """`rate` logins per second whatever the answers: arrivals do not wait for the service (open loop)."""
    out = Outcomes()
    started = time.monotonic()
    tasks = []
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(login(stub, request, out)))
    await asyncio.gather(*tasks)
    return out


async def test_a_login_flood_at_three_times_capacity_is_shed_and_the_rest_served(service_factory) -> None:
    system = await asyncio.to_thread(
        System,
        service_factory,
        HASH_PROFILE="owasp",
        HASH_WORKERS=str(WORKERS),
        THROTTLE_ID_CAPACITY=UNLIMITED,
        THROTTLE_ID_PER_SECOND=UNLIMITED,
        THROTTLE_SOURCE_CAPACITY=UNLIMITED,
        THROTTLE_SOURCE_PER_SECOND=UNLIMITED,
    )
    customer_id = await asyncio.to_thread(system.register)
    await asyncio.to_thread(system.enroll, customer_id, "flood001")
    member = system.member_service.process
    assert member is not None
    request = msgs.LoginRequest(banking_id="flood001", password=PASSWORD)
    async with grpc.aio.insecure_channel(system.member_service.address) as channel:
        stub = member_service_pb2_grpc.MemberServiceStub(channel)
        await closed_loop(stub, request, 1.0, WORKERS)  # warm-up
        # capacity: saturated (a caller per worker and per queue slot); nominal latency: a caller per worker
        saturated = await closed_loop(stub, request, NOMINAL_SECONDS, 2 * WORKERS)
        capacity = len(saturated.admitted) / NOMINAL_SECONDS
        nominal = await closed_loop(stub, request, NOMINAL_SECONDS, WORKERS)
        rss_before = rss_kib(member.pid)
        flood = await open_loop(stub, request, FACTOR * capacity, OVERLOAD_SECONDS)
        rss_after = rss_kib(member.pid)
        ended = time.monotonic()
        recovered, back_to_nominal = None, None
        while time.monotonic() < ended + 10 and back_to_nominal is None:
            probe = Outcomes()
            await login(stub, request, probe)
            if probe.admitted and recovered is None:
                recovered = time.monotonic() - ended
            if probe.admitted and probe.admitted[0] <= 2 * p(nominal.admitted, 99):
                back_to_nominal = time.monotonic() - ended
    offered = int(FACTOR * capacity * OVERLOAD_SECONDS)
    record(
        f"Overload (L2/L3): capacity {capacity:.1f} logins/s (OWASP argon2id, {WORKERS} worker and its queue of "
        f"one, nominal p99 {1000 * p(nominal.admitted, 99):.0f} ms); "
        f"{FACTOR:g}x for {OVERLOAD_SECONDS:g}s = {offered} logins: "
        f"{len(flood.admitted)} admitted (p99 {1000 * p(flood.admitted, 99):.0f} ms = "
        f"{p(flood.admitted, 99) / p(nominal.admitted, 99):.1f}x nominal; target <= 2x), {len(flood.shed)} shed "
        f"(p50 {1000 * p(flood.shed, 50):.1f} ms, p99 {1000 * p(flood.shed, 99):.1f} ms; target <= 50 ms), "
        f"{len(flood.other)} other; RSS {rss_before // 1024} -> {rss_after // 1024} MiB "
        f"({100 * (rss_after - rss_before) / rss_before:+.0f} %; target <= +20 %); logged in again "
        f"{recovered if recovered is None else f'{recovered:.2f}s'} after, nominal latency "
        f"{back_to_nominal if back_to_nominal is None else f'{back_to_nominal:.2f}s'} after (target <= 10 s)"
    )
    assert not flood.other and not nominal.other and not saturated.other and not saturated.shed
    assert len(flood.admitted) + len(flood.shed) == offered
    assert len(flood.shed) >= offered // 3, "three times the capacity, yet little was shed"
    assert min(flood.hints) >= 1, "a refusal without its retry hint"
    assert recovered is not None and recovered <= 10
