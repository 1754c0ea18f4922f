"""What a customer asks of the account context, with the access token that says who is asking. Fields are
raw input; handlers validate them. The correlation id is the calling adapter's, handed in (never read by
the domain), so both sides of a transfer carry the same one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class OpenAccount:
    access_token: str
    customer_id: str
    product_code: str
    idempotency_key: str

    def __repr__(self) -> str:  # a token must never reach a log line, even through a repr
        return f"OpenAccount(customer_id={self.customer_id!r}, product_code={self.product_code!r})"


@dataclass(frozen=True, repr=False)
class GetAccount:
    access_token: str
    account_number: str

    def __repr__(self) -> str:
        return f"GetAccount(account_number={self.account_number!r})"


@dataclass(frozen=True, repr=False)
class Deposit:
    access_token: str
    account_number: str
    amount: int
    idempotency_key: str
    correlation_id: str = ""

    def __repr__(self) -> str:
        return f"Deposit(account_number={self.account_number!r}, amount={self.amount!r})"


@dataclass(frozen=True, repr=False)
class Withdraw:
    access_token: str
    account_number: str
    amount: int
    idempotency_key: str
    correlation_id: str = ""

    def __repr__(self) -> str:
        return f"Withdraw(account_number={self.account_number!r}, amount={self.amount!r})"


@dataclass(frozen=True, repr=False)
class Transfer:
    access_token: str
    from_account_number: str
    to_account_number: str
    amount: int
    idempotency_key: str
    correlation_id: str = ""

    def __repr__(self) -> str:
        return (
            f"Transfer(from_account_number={self.from_account_number!r}, "
            f"to_account_number={self.to_account_number!r}, amount={self.amount!r})"
        )


@dataclass(frozen=True, repr=False)
class CloseAccount:
    access_token: str
    account_number: str
    idempotency_key: str

    def __repr__(self) -> str:
        return f"CloseAccount(account_number={self.account_number!r})"


@dataclass(frozen=True)
class RecordCustomerStatus:
    """A customer event as the account context's replica sees it."""

    customer_id: str
    status: str  # NORMAL, SUSPENDED or TERMINATED
    version: int
