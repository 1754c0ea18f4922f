"""The E11 checker (reliability notes 8.4): after faults, compare the my_accounts view with its source,
the account service's own database, and say what was lost, invented or left unseen.

It reads both databases directly: it is a test oracle, not part of the product."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Verdict:
    accounts: int = 0
    events_committed: int = 0  # account events in the source's outbox
    events_applied: int = 0  # of those, recorded in the view's inbox
    lost: int = 0  # committed, never applied
    phantom_accounts: int = 0  # in the view, not in the source (G1a: effects of nothing committed)
    ahead: int = 0  # view sequence beyond the source's (would mean a rolled-back change was applied)
    mismatched: list[tuple[str, int, int, int, int]] = field(default_factory=list)  # number, src bal/seq, view bal/seq
    seconds_to_converge: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom_accounts or self.ahead or self.mismatched)


def _rows(db: Path, query: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def check(source_db: Path, view_db: Path) -> Verdict:
    rows = _rows(source_db, "select account_number, balance, sequence, customer_id from accounts")
    source = {n: (b, s) for n, b, s, _ in rows}
    customers = {c for *_, c in rows}
    # The view follows shared topics, so it may hold other sources' accounts: judge only this source's customers.
    view = {
        n: (b, s)
        for n, b, s, c in _rows(view_db, "select account_number, balance, sequence, customer_id from view_accounts")
        if c in customers
    }
    committed = {r[0] for r in _rows(source_db, "select event_id from outbox")}
    applied = {r[0] for r in _rows(view_db, "select message_id from inbox")}
    verdict = Verdict(accounts=len(source), events_committed=len(committed))
    verdict.events_applied = len(committed & applied)
    verdict.lost = len(committed - applied)
    verdict.phantom_accounts = len(set(view) - set(source))
    for number, (balance, sequence) in source.items():
        seen = view.get(number)
        if seen is None or seen != (balance, sequence):
            got = seen or (0, 0)
            verdict.mismatched.append((number, balance, sequence, *got))
            verdict.ahead += got[1] > sequence
    return verdict


def wait_until_converged(source_db: Path, view_db: Path, timeout: float = 30.0) -> Verdict:
    """Check until the view equals the source, or `timeout` seconds pass; the last verdict either way."""
    started = time.monotonic()
    while True:
        verdict = check(source_db, view_db)
        verdict.seconds_to_converge = time.monotonic() - started
        if verdict.ok or verdict.seconds_to_converge > timeout:
            return verdict
        time.sleep(0.2)


def redeliveries(records: list[tuple[str, str]]) -> int:
    """How many records on the topic repeated an event id already seen (the relay's at-least-once)."""
    counts = Counter(ce_id for ce_id, _ in records)
    return sum(c - 1 for c in counts.values() if c > 1)
