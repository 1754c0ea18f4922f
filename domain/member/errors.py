"""Refusals of the member context. Every failed login is the one InvalidCredentials, whatever the cause;
the cause goes to the LoginFailed event and the audit log only."""

from __future__ import annotations

from domain.shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from domain.shared.errors import InvalidToken as InvalidToken  # re-exported: tokens are issued here


class InvalidCredentials(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("invalid credentials")


class WeakPassword(InvalidArgument):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)


class BankingIdTaken(AlreadyExists):
    def __init__(self) -> None:
        super().__init__("this banking id is not available")


class CustomerAlreadyEnrolled(AlreadyExists):
    def __init__(self) -> None:
        super().__init__("the customer already has a banking member")


class CustomerNotEligible(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("the customer is unknown or not in normal status")


class MemberNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("banking member not found")


class MemberNotLocked(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__("the banking member is not locked")
