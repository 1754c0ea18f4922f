"""Argon2PasswordHasher with real argon2id: hash format and salting, verify never raising for bad hashes,
rehash detection, and admission control (W running, Q waiting, the rest refused at once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from adapters.outbound.security.argon2_hasher import CHEAP, OWASP, Argon2PasswordHasher
from domain.shared.errors import Overloaded

PASSWORD = "correct horse battery staple"


@pytest.fixture
def owasp() -> Iterator[Argon2PasswordHasher]:
    hasher = Argon2PasswordHasher(OWASP, workers=2, queue_size=4)
    yield hasher
    hasher.close()


@pytest.fixture
def cheap() -> Iterator[Argon2PasswordHasher]:
    hasher = Argon2PasswordHasher(CHEAP, workers=2, queue_size=4)
    yield hasher
    hasher.close()


async def test_owasp_hash_is_argon2id_with_owasp_parameters_and_salted(owasp: Argon2PasswordHasher) -> None:
    async with owasp.admit():
        first = await owasp.hash(PASSWORD)
    async with owasp.admit():
        second = await owasp.hash(PASSWORD)
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert first != second
    assert owasp.hashes == 2


async def test_cheap_profile_parameters(cheap: Argon2PasswordHasher) -> None:
    assert (await cheap.hash(PASSWORD)).startswith("$argon2id$v=19$m=1024,t=1,p=1$")


async def test_verify_true_only_for_the_exact_password(owasp: Argon2PasswordHasher) -> None:
    stored = await owasp.hash(PASSWORD)
    assert await owasp.verify(stored, PASSWORD) is True
    for wrong in (PASSWORD[:-1], PASSWORD + "x", PASSWORD.upper(), PASSWORD + " ", ""):
        assert await owasp.verify(stored, wrong) is False
    assert owasp.verifies == 6


@pytest.mark.parametrize(
    "unusable",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$!!!not-base64!!!",
        "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "pbkdf2_sha256$870000$salt$hash=",
    ],
)
async def test_verify_is_false_for_unusable_hashes(cheap: Argon2PasswordHasher, unusable: str) -> None:
    assert await cheap.verify(unusable, PASSWORD) is False


async def test_needs_rehash_for_other_parameters(owasp: Argon2PasswordHasher, cheap: Argon2PasswordHasher) -> None:
    assert owasp.needs_rehash(await cheap.hash(PASSWORD)) is True
    assert owasp.needs_rehash(await owasp.hash(PASSWORD)) is False
    assert owasp.needs_rehash("not a hash") is True


async def test_verify_dummy_is_one_real_verify(owasp: Argon2PasswordHasher) -> None:
    async with owasp.admit():
        await owasp.verify_dummy(PASSWORD)
    assert (owasp.dummy_verifies, owasp.verifies, owasp.max_running_seen) == (1, 0, 1)


async def test_admission_refuses_exactly_the_excess_at_once(owasp: Argon2PasswordHasher) -> None:
    stored = await owasp.hash(PASSWORD)
    owasp.max_running_seen = 0

    async def login() -> bool:
        async with owasp.admit():
            return await owasp.verify(stored, PASSWORD)

    started = time.perf_counter()
    results = await asyncio.gather(*(login() for _ in range(50)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Overloaded)]
    # All 50 enter admit() in one loop iteration, before any hash finishes: W + Q = 6 are let in.
    assert results.count(True) == 6
    assert len(refused) == 44
    assert all(r.retry_after_seconds >= 1 for r in refused)
    assert refused[0].message.startswith("too many login attempts right now; try again in ")
    assert owasp.max_running_seen == 2
    assert owasp.verifies == 6  # the refused never reached the hasher
    # 6 hashes on 2 workers: about 3 hash durations, not 25.
    assert time.perf_counter() - started < 10 * owasp_seconds(owasp)
    assert (owasp.admitted, owasp.running) == (0, 0)  # every slot came back


async def test_slot_is_released_on_error_and_cancellation(cheap: Argon2PasswordHasher) -> None:
    with pytest.raises(RuntimeError):
        async with cheap.admit():
            raise RuntimeError("handler failed")

    blocked = asyncio.Event()

    async def hold() -> None:
        async with cheap.admit():
            await blocked.wait()

    holders = [asyncio.create_task(hold()) for _ in range(6)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        async with cheap.admit():
            pass
    for task in holders:
        task.cancel()
    await asyncio.gather(*holders, return_exceptions=True)
    async with cheap.admit():
        assert await cheap.verify(await cheap.hash(PASSWORD), PASSWORD)


async def test_hashing_does_not_block_the_event_loop(owasp: Argon2PasswordHasher) -> None:
    stored = await owasp.hash(PASSWORD)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(owasp.verify(stored, PASSWORD) for _ in range(6)))
    done.set()
    await tick
    # Inline hashing would stall the loop for a whole hash (tens of ms) at a time.
    assert max(gaps) < owasp_seconds(owasp)


def owasp_seconds(hasher: Argon2PasswordHasher) -> float:
    """The hasher's moving average of one hash, at least 20 ms."""
    return max(0.02, hasher.average_hash_seconds)
