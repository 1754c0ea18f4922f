"""The CommonPasswords port: Django's common-password list ("20,000 common passwords", 19,640 distinct
lowercase lines; BSD-3-Clause, see data/COMMON-PASSWORDS-LICENSE.txt), shipped gzipped as package data.

Loaded on first use, once per process (a frozenset of short strings, about 3.5 MB), and compared
case-insensitively with casefold, as the password policy asks."""

from __future__ import annotations

import gzip
import io
import threading
from importlib import resources

_DATA = ("data", "common-passwords.txt.gz")


class CommonPasswordList:
    def __init__(self) -> None:
        self._entries: frozenset[str] | None = None
        self._lock = threading.Lock()

    def __contains__(self, candidate: object) -> bool:
        return isinstance(candidate, str) and candidate.casefold() in self._load()

    def __len__(self) -> int:
        return len(self._load())

    def _load(self) -> frozenset[str]:
        entries = self._entries
        if entries is None:
            with self._lock:
                if self._entries is None:
                    self._entries = _read()
                entries = self._entries
        return entries


def _read() -> frozenset[str]:
    # importlib.resources rather than __file__: works however the package is installed (wheel, zip).
    data = resources.files(__package__).joinpath(*_DATA).read_bytes()
    with gzip.open(io.BytesIO(data), "rt", encoding="utf-8") as lines:
        return frozenset(folded for line in lines if (folded := line.strip().casefold()))
