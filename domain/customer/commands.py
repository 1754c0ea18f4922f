"""What an operator asks of the customer context. Fields are raw input; handlers validate them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterCustomer:
    name: str


@dataclass(frozen=True)
class SuspendCustomer:
    customer_id: str


@dataclass(frozen=True)
class ReinstateCustomer:
    customer_id: str


@dataclass(frozen=True)
class TerminateCustomer:
    customer_id: str
