"""Refusals of the customer context."""

from __future__ import annotations

from domain.shared.errors import FailedPrecondition, NotFound


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("customer not found")


class TransitionNotAllowed(FailedPrecondition):
    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"a {status.lower()} customer cannot be {action}")
