"""Refusals of the my accounts context."""

from __future__ import annotations

from domain.shared.errors import PermissionDenied


class CustomerNotServed(PermissionDenied):
    def __init__(self) -> None:
        super().__init__("the customer is not in normal status")
