"""Refusals of the account context. An account of another customer is refused exactly like an unknown one,
so nobody learns which account numbers exist from GetAccount, Deposit, Withdraw or CloseAccount."""

from __future__ import annotations

from domain.shared.errors import FailedPrecondition, NotFound, PermissionDenied


class AccountNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("account not found")


class DestinationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("destination account not found")


class InsufficientFunds(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("insufficient funds")


class BalanceLimitExceeded(FailedPrecondition):
    """The balance would pass the largest amount an account can hold (2**63 - 1 KRW)."""

    def __init__(self) -> None:
        super().__init__("the balance would exceed the largest balance an account can hold")


class AccountNotOpen(FailedPrecondition):
    def __init__(self, which: str = "the account") -> None:
        super().__init__(f"{which} is closed")


class BalanceNotZero(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("only an account with a zero balance can be closed")


class CustomerNotNormal(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("the customer is not in normal status")


class DestinationCustomerTerminated(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("the destination account cannot receive money")


class NotTheCallersCustomer(PermissionDenied):
    def __init__(self) -> None:
        super().__init__("an account can be opened only for the caller's own customer")
