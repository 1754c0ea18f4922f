"""Request-scoped context shared by inbound and outbound adapters: the correlation id of the current call
or event, carried into log lines and into the headers of the events the call causes."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")

# Correlation ids come from callers: accept only a short, plain token, so nothing odd reaches logs or headers.
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def accept_correlation_id(candidate: str | None) -> str:
    """The caller's correlation id if it is a plain token of at most 64 characters, else a new one."""
    if candidate and len(candidate) <= 64 and set(candidate) <= _ALLOWED:
        return candidate
    return uuid.uuid4().hex
