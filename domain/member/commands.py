"""What is asked of the member context. Fields are raw input; handlers validate them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class EnrollMember:
    customer_id: str
    banking_id: str
    password: str

    def __repr__(self) -> str:
        return f"EnrollMember(customer_id={self.customer_id!r}, banking_id={self.banking_id!r})"


@dataclass(frozen=True, repr=False)
class LogIn:
    banking_id: str
    password: str
    source: str  # the caller's network address, for per-source throttling and the audit log

    def __repr__(self) -> str:  # a password must never reach a log line, even through a repr
        return f"LogIn(banking_id={self.banking_id!r}, source={self.source!r})"


@dataclass(frozen=True, repr=False)
class RefreshToken:
    refresh_token: str

    def __repr__(self) -> str:
        return "RefreshToken(...)"


@dataclass(frozen=True, repr=False)
class LogOut:
    access_token: str

    def __repr__(self) -> str:
        return "LogOut(...)"


@dataclass(frozen=True, repr=False)
class ChangePassword:
    access_token: str
    current_password: str
    new_password: str

    def __repr__(self) -> str:
        return "ChangePassword(...)"


@dataclass(frozen=True)
class UnlockMember:
    member_id: str


@dataclass(frozen=True)
class RecordCustomerStatus:
    """A customer event as the member context's replica sees it."""

    customer_id: str
    status: str  # NORMAL, SUSPENDED or TERMINATED
    version: int
