"""Who is calling: the claims of a verified access token. Issued by the member context; the account and
my_accounts contexts verify tokens themselves (with the member's published keys) and know the caller only
through these claims, never through a customer id in the request.

Operators (bank staff running the customer lifecycle, enrolment, unlocks) carry a different token from a
different issuer, with different keys: OperatorClaims. A member's access token is never an operator's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class AccessClaims:
    customer_id: str  # `sub`
    member_id: str
    session_id: str  # `sid`
    token_id: str  # `jti`
    issued_at: datetime
    expires_at: datetime


class AccessTokenVerifier(Protocol):
    def verify(self, token: str, now: datetime) -> AccessClaims:
        """The claims of a valid access token at `now`; InvalidToken for anything else (signature, algorithm,
        issuer, audience, type, lifetime, expiry)."""
        ...


@dataclass(frozen=True)
class OperatorClaims:
    operator: str  # `sub`: the operator's name
    token_id: str  # `jti`
    expires_at: datetime


class OperatorVerifier(Protocol):
    def verify(self, token: str, now: datetime) -> OperatorClaims:
        """The claims of a valid operator token at `now`; InvalidToken for anything else (a member's access
        token included: it is not an operator token)."""
        ...
