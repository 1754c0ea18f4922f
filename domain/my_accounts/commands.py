"""What is asked of the my accounts view."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class ListMyAccounts:
    access_token: str
    account_number: str = ""  # read your own write: this account...
    min_sequence: int = 0  # ...at least at this sequence

    def __repr__(self) -> str:
        return f"ListMyAccounts(account_number={self.account_number!r}, min_sequence={self.min_sequence})"
