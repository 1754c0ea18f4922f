"""Banking ids (뱅킹아이디) are canonicalized once, at every entrance, so that "Alice", " alice " and the
full-width "ａｌｉｃｅ" are one banking id: one member, one failure counter.

Canonical form: trimmed, NFKC-normalized, case-folded; then 4 to 32 characters of a-z, 0-9, '.', '_', '-',
starting with a letter or digit."""

from __future__ import annotations

import unicodedata

from domain.shared.errors import InvalidArgument

MIN_LENGTH, MAX_LENGTH = 4, 32
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
# Longer input cannot become a valid id (NFKC may shrink some sequences, never by 8x): refuse before normalizing.
_RAW_LIMIT = MAX_LENGTH * 8


def canonical_banking_id(raw: str) -> str:
    """The canonical banking id, or InvalidArgument saying what is wrong."""
    if len(raw) > _RAW_LIMIT:
        raise InvalidArgument("banking_id", f"must be {MIN_LENGTH} to {MAX_LENGTH} characters")
    value = unicodedata.normalize("NFKC", raw.strip()).casefold()
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise InvalidArgument("banking_id", f"must be {MIN_LENGTH} to {MAX_LENGTH} characters")
    if not set(value) <= _ALLOWED or not value[0].isalnum():
        raise InvalidArgument(
            "banking_id", "may contain only a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )
    return value
