"""The password policy (NIST SP 800-63B, OWASP ASVS 5): length only, no composition rules, a blocklist.

- Passwords are NFKC-normalized before anything else (NIST's recommendation), so the NFC and NFD spellings
  of one password are the same password. Nothing else is changed: no trimming, no case folding, no truncation.
- 12 to 128 characters, counted as code points after normalization.
- Not a common password (case-insensitive), not the banking id, not the banking id reversed.
- At login, an empty or over-long password is refused without hashing (a 1 MB password must not cost
  1 MB of argon2 work)."""

from __future__ import annotations

import unicodedata
from typing import Protocol

from domain.member.errors import WeakPassword

MIN_LENGTH, MAX_LENGTH = 12, 128
# NFKC composes at most 3 code points into 1 (Hangul jamo), so raw input longer than this can never
# normalize to MAX_LENGTH or less: refuse it before spending work on normalization.
_RAW_LIMIT = MAX_LENGTH * 4


class CommonPasswords(Protocol):
    def __contains__(self, candidate: str) -> bool:
        """True if `candidate` (compared case-insensitively) is on the list of common passwords."""
        ...


def normalize_password(raw: str) -> str | None:
    """The password as it is hashed and compared, or None if it cannot be valid (empty or too long)."""
    if not raw or len(raw) > _RAW_LIMIT:
        return None
    password = unicodedata.normalize("NFKC", raw)
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return None
    return password


def check_new_password(raw: str, banking_id: str, common: CommonPasswords, field: str = "password") -> str:
    """The normalized password if it meets the policy, else WeakPassword with the reason."""
    password = unicodedata.normalize("NFKC", raw) if len(raw) <= _RAW_LIMIT else raw
    if len(password) < MIN_LENGTH:
        raise WeakPassword(field, f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(field, f"must be at most {MAX_LENGTH} characters")
    folded = password.casefold()
    if folded in (banking_id, banking_id[::-1]) or banking_id in folded:
        raise WeakPassword(field, "must not contain the banking id")
    if folded in common:
        raise WeakPassword(field, "is too common; choose another")
    return password
