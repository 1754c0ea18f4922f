"""Operator RPCs (the customer lifecycle, EnrollMember, UnlockMember) answer only callers holding an operator
token (OWASP ASVS 8.2.1, 8.3.1). Each such servicer method calls `OperatorGuard.check` before anything else.
The service checks the token itself even behind the gateway, which checks the same token: a caller that
reaches the service port directly meets the same rule.

- no `authorization: Bearer` token, or one that is not a valid operator token: UNAUTHENTICATED (InvalidToken);
- a valid banking member's access token: PERMISSION_DENIED (the caller is known, but not an operator). Telling
  it apart needs the member keys (`members`); without them it is just not an operator token: UNAUTHENTICATED.

Every admitted call is logged with the operator's name and the token's jti (never the token)."""

from __future__ import annotations

import logging

from adapters.inbound.grpc.metadata import CallContext, bearer_token
from domain.shared.clock import Clock
from domain.shared.errors import InvalidToken, PermissionDenied
from domain.shared.tokens import AccessTokenVerifier, OperatorClaims, OperatorVerifier

log = logging.getLogger("operator")


class OperatorGuard:
    def __init__(self, operators: OperatorVerifier, clock: Clock, members: AccessTokenVerifier | None = None) -> None:
        self._operators = operators
        self._clock = clock
        self._members = members

    def check(self, context: CallContext, rpc: str) -> OperatorClaims:
        """The operator calling `rpc`; InvalidToken or PermissionDenied for anyone else."""
        token = bearer_token(context)
        now = self._clock.now()
        try:
            claims = self._operators.verify(token, now)
        except InvalidToken:
            if self._is_member_token(token):
                log.warning("%s refused: a member's access token, not an operator token", rpc)
                raise PermissionDenied("operator credentials required") from None
            raise
        log.info("%s by operator %s (token %s)", rpc, claims.operator, claims.token_id)
        return claims

    def _is_member_token(self, token: str) -> bool:
        if self._members is None:
            return False
        try:
            self._members.verify(token, self._clock.now())
        except InvalidToken:
            return False
        return True
