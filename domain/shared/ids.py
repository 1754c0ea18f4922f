"""Identifiers assigned by the bank: lowercase UUIDs, parsed strictly at the edge of every context."""

from __future__ import annotations

import uuid

from domain.shared.errors import InvalidArgument


def new_id() -> str:
    """A fresh random id (UUID version 4, lowercase, with hyphens)."""
    return str(uuid.uuid4())


def parse_id(value: str, field: str) -> str:
    """The canonical form of an id, or InvalidArgument. Only the canonical 36-character form is accepted,
    so one id never has two spellings (and two rows, or two failure counters)."""
    if len(value) != 36:
        raise InvalidArgument(field, "must be an id of 36 characters")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(field, "must be an id of 36 characters") from None
    if str(parsed) != value:
        raise InvalidArgument(field, "must be an id in lowercase canonical form")
    return value
