"""The operator check of the operator RPCs, with fake verifiers: an operator token passes, a banking member's
valid access token is PERMISSION_DENIED (when the member keys are known), anything else UNAUTHENTICATED."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.inbound.grpc.operator import OperatorGuard
from domain.shared.errors import InvalidToken, PermissionDenied
from domain.shared.tokens import AccessClaims
from tests.fakes import FakeClock, FakeOperatorVerifier

MEMBER_TOKEN = "member-access-token"


class Context:
    def __init__(self, *metadata: tuple[str, str]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


class MemberTokens:
    """Knows one valid member access token."""

    def __init__(self, clock: FakeClock) -> None:
        now = clock.now()
        self.claims = AccessClaims("c-1", "m-1", "s-1", "j-1", now, now + timedelta(minutes=5))

    def verify(self, token: str, now: datetime) -> AccessClaims:
        if token != MEMBER_TOKEN or now >= self.claims.expires_at:
            raise InvalidToken()
        return self.claims


def bearer(token: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {token}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def operators() -> FakeOperatorVerifier:
    return FakeOperatorVerifier()


def test_an_operator_token_passes_until_it_expires(clock: FakeClock, operators: FakeOperatorVerifier) -> None:
    token = operators.issue("ops.kim", clock.now() + timedelta(minutes=15))
    guard = OperatorGuard(operators, clock, MemberTokens(clock))
    claims = guard.check(Context(("x-correlation-id", "c"), bearer(token)), "SuspendCustomer")  # type: ignore[arg-type]
    assert (claims.operator, claims.token_id) == ("ops.kim", f"jti-{token}")
    clock.advance(minutes=15)
    with pytest.raises(InvalidToken):
        guard.check(Context(bearer(token)), "SuspendCustomer")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Basic b3BzOnB3"),),
        (("authorization", "Bearer"),),
        (bearer("garbage"),),
        (("x-operator", "ops.kim"),),  # no header names an operator: only a verified token does
    ],
)
def test_no_or_a_bad_credential_is_unauthenticated(
    clock: FakeClock, operators: FakeOperatorVerifier, metadata: tuple[tuple[str, str], ...]
) -> None:
    guard = OperatorGuard(operators, clock, MemberTokens(clock))
    with pytest.raises(InvalidToken):
        guard.check(Context(*metadata), "RegisterCustomer")  # type: ignore[arg-type]


def test_a_members_access_token_is_permission_denied(clock: FakeClock, operators: FakeOperatorVerifier) -> None:
    guard = OperatorGuard(operators, clock, MemberTokens(clock))
    with pytest.raises(PermissionDenied) as denied:
        guard.check(Context(bearer(MEMBER_TOKEN)), "EnrollMember")  # type: ignore[arg-type]
    assert denied.value.__cause__ is None and denied.value.__suppress_context__
    clock.advance(minutes=5)  # an expired member token is not a valid one: just unauthenticated
    with pytest.raises(InvalidToken):
        guard.check(Context(bearer(MEMBER_TOKEN)), "EnrollMember")  # type: ignore[arg-type]


def test_without_the_member_keys_a_members_token_is_unauthenticated(
    clock: FakeClock, operators: FakeOperatorVerifier
) -> None:
    guard = OperatorGuard(operators, clock)
    with pytest.raises(InvalidToken):
        guard.check(Context(bearer(MEMBER_TOKEN)), "GetCustomer")  # type: ignore[arg-type]
