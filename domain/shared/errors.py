"""The kinds of refusal a command can meet. Each inbound adapter maps these kinds (never their subclasses)
to its protocol's codes through one table; the messages are written for the caller and never hold secrets."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can understand. `message` is safe to show; nothing else is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """A field of the request is missing, malformed or out of range."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(DomainError):
    """The addressed thing does not exist (or is not the caller's to see)."""


class AlreadyExists(DomainError):
    """The thing to create exists already."""


class FailedPrecondition(DomainError):
    """The thing is in a state that forbids the command."""


class IdempotencyKeyReused(FailedPrecondition):
    """An idempotency key came back with a different request."""


class Unauthenticated(DomainError):
    """The caller could not be authenticated. One message for every cause."""


class InvalidToken(Unauthenticated):
    """An access or refresh token that is missing, malformed, expired, revoked or not meant for us."""

    def __init__(self) -> None:
        super().__init__("invalid or expired token")


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class Overloaded(DomainError):
    """Too much work right now; the caller should try again after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class DependencyUnavailable(DomainError):
    """A dependency (database, broker) cannot be reached. Nothing was changed; the call may be retried."""
