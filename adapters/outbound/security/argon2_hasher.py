"""argon2id password hashing (argon2-cffi) in a bounded thread pool, with admission control.

A hash costs tens of milliseconds of CPU and 19 MiB of memory, so it never runs on the event loop: it runs in
a pool of W threads (argon2-cffi releases the GIL, so the threads use every core). In front of the pool,
`admit()` lets at most W + Q callers in at once and refuses the next one at once with Overloaded, so a flood
of logins costs a refusal each instead of an ever-growing queue of 19 MiB hashes.

Used from one event loop: the admission counter is only touched on the loop thread (no await between the
check and the increment). The execution counters are touched by worker threads and guarded by a lock."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from domain.shared.errors import Overloaded

T = TypeVar("T")

MAX_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class HashProfile:
    """argon2id cost parameters."""

    time_cost: int
    memory_cost: int  # KiB
    parallelism: int


# OWASP Password Storage Cheat Sheet minimum for argon2id (and ASVS 5 appendix C): the production default.
OWASP = HashProfile(time_cost=2, memory_cost=19456, parallelism=1)
# For tests and the pool-overhead benchmark: under a millisecond, yet still a real memory-hard argon2id run
# (argon2's floor is 8 KiB per lane; 1 MiB keeps the work shape of a real hash).
CHEAP = HashProfile(time_cost=1, memory_cost=1024, parallelism=1)


class Argon2PasswordHasher:
    """The PasswordHasher port. Call `hash`/`verify`/`verify_dummy` inside `async with hasher.admit():`."""

    def __init__(self, profile: HashProfile = OWASP, workers: int | None = None, queue_size: int = 16) -> None:
        self.profile = profile
        self.workers = workers if workers is not None else os.cpu_count() or 1
        self.queue_size = queue_size
        if self.workers < 1 or queue_size < 0:
            raise ValueError("workers must be >= 1 and queue_size >= 0")
        self._hasher = PasswordHasher(
            time_cost=profile.time_cost,
            memory_cost=profile.memory_cost,
            parallelism=profile.parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        self._lock = threading.Lock()
        self._admitted = 0
        self.running = 0
        self.max_running_seen = 0
        self.hashes = 0
        self.verifies = 0
        self.dummy_verifies = 0
        # Made once, with the current profile, so that the unknown-id path pays exactly a real verify. Its
        # duration also seeds the moving average used for retry estimates.
        started = time.perf_counter()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        self._average_seconds = time.perf_counter() - started

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one of the W + Q slots for the block; Overloaded at once (before any work) if none is free."""
        if self._admitted >= self.workers + self.queue_size:
            retry_after = self.retry_after_seconds()
            raise Overloaded(
                f"too many login attempts right now; try again in {retry_after} seconds",
                retry_after_seconds=retry_after,
            )
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    @property
    def admitted(self) -> int:
        """Callers inside admit() right now (running or waiting)."""
        return self._admitted

    @property
    def average_hash_seconds(self) -> float:
        """Moving average of one hash or verify on this machine, under the current load."""
        with self._lock:
            return self._average_seconds

    def retry_after_seconds(self) -> int:
        """Whole seconds until the backlog now admitted has drained: backlog / W hashes of average duration."""
        estimate = math.ceil(self._admitted * self.average_hash_seconds / self.workers)
        return max(1, min(MAX_RETRY_AFTER_SECONDS, estimate))

    async def hash(self, password: str) -> str:
        with self._lock:
            self.hashes += 1
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.verifies += 1
        return await self._run(lambda: self._verify(password_hash, password))

    async def verify_dummy(self, password: str) -> None:
        # The same path as verify (pool, counters, exception handling): only the counter differs.
        with self._lock:
            self.dummy_verifies += 1
        await self._run(lambda: self._verify(self._dummy_hash, password))

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            # Not an argon2 hash we can read: replace it at the next successful login.
            return True

    def close(self) -> None:
        """Stop the pool: queued hashes are cancelled, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            # VerifyMismatchError (a VerificationError) is the wrong password; the others are unusable hashes.
            # The port says False for all of them: a broken stored hash must not become a 500 or an oracle.
            return False

    async def _run(self, work: Callable[[], T]) -> T:
        # If the awaiting task is cancelled, asyncio cancels the pool future too: a queued hash is dropped and
        # only a running one (at most W) outlives its caller, so the pool's queue stays bounded by admission.
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed, work)

    def _timed(self, work: Callable[[], T]) -> T:
        with self._lock:
            self.running += 1
            self.max_running_seen = max(self.max_running_seen, self.running)
        started = time.perf_counter()
        try:
            return work()
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.running -= 1
                # Exponential moving average: follows load changes within ~10 hashes.
                self._average_seconds += 0.2 * (elapsed - self._average_seconds)
