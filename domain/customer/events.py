"""What happened to a customer. Each carries the customer's version after the change, so that replicas in
other contexts apply changes in order and ignore stale or repeated ones."""

from __future__ import annotations

from dataclasses import dataclass

from domain.shared.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class CustomerEvent(DomainEvent):
    customer_version: int


@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(CustomerEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class CustomerSuspended(CustomerEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class CustomerReinstated(CustomerEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class CustomerTerminated(CustomerEvent):
    pass
