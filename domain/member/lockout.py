"""The lockout policy (잠금): how many consecutive failures lock a banking member, for how long, and when a
lock becomes permanent. Defaults, all configurable:

- 5 consecutive failed logins lock the member for 5 minutes;
- every further temporary lock doubles the wait (5, 10, 20, 40 min), capped at 1 hour;
- failures older than the reset window (15 minutes) are forgotten;
- the 5th temporary lock without a success in between is permanent: only an operator (UnlockMember) lifts it;
- failures while locked are not counted (they cannot make a lock longer); a success clears everything.

So an attacker gets at most 5 guesses per lock and 25 consecutive guesses in all: far under NIST's 100."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    first_lock: timedelta = timedelta(minutes=5)
    lock_multiplier: int = 2
    max_lock: timedelta = timedelta(hours=1)
    reset_window: timedelta = timedelta(minutes=15)
    permanent_after_locks: int = 5

    def lock_duration(self, lock_number: int) -> timedelta:
        """How long the `lock_number`-th temporary lock (1-based) lasts."""
        return min(self.first_lock * self.lock_multiplier ** (lock_number - 1), self.max_lock)
