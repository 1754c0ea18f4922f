"""Verification of ES256 access tokens (RFC 9068) against a JWKS of public keys, following RFC 8725.

The one verifier of the system, for every kind of token: the member service uses it (through JwtTokenService)
with its own JWKS, the my_accounts and account services with the JWKS fetched from the member service, and
the customer and member services, with the operator profile, for operator tokens (operator_tokens.py). A
TokenProfile says what differs between kinds: the claims a kind must carry beside the common ones, extra
checks of their values, and what a verified token becomes (AccessClaims, OperatorClaims). Everything else is
this one code path. Every refusal is the one InvalidToken; PyJWT's messages (which may quote the token) are
never passed on.

Checks: at most 3 segments and 4 KiB; header has only alg/typ/kid (so no jku/jwk/x5u/crit), alg is ES256
(pinned, never taken from the token), typ is exactly "at+jwt", kid names a key of the JWKS; signature;
iss and aud (a single string) equal the configured ones; sub, jti and the profile's own claims (member
access tokens: member_id, sid) are non-empty strings; iat, nbf, exp are integers; exp - iat is positive and
at most the configured maximum lifetime; and against the caller's `now`, with a leeway of at most 5 s: not
expired, not before nbf, not issued in the future; then the profile's own checks."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from domain.shared.errors import InvalidToken
from domain.shared.tokens import AccessClaims

ALGORITHM = "ES256"
ACCESS_JWT_TYP = "at+jwt"  # RFC 9068 §2.1: the header typ of a JWT access token
MAX_TOKEN_CHARS = 4096
MAX_LEEWAY_SECONDS = 5
CHECKED_TOKENS = 4096  # verified tokens kept per verifier: some 6 MB at most
_HEADER_NAMES = frozenset({"alg", "typ", "kid"})
_COMMON_STRING_CLAIMS = ("sub", "jti")
_TIME_CLAIMS = ("iat", "nbf", "exp")

T = TypeVar("T")


def _no_more_checks(claims: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class TokenProfile(Generic[T]):
    """One kind of token. `string_claims`: the non-empty string claims it needs beside sub and jti; `valid`:
    further checks of the claim values (False refuses the token); `result`: the verified claims as the
    domain's type. The registered claims (iss, aud, sub, jti, iat, nbf, exp) are checked alike for every kind."""

    name: str
    string_claims: tuple[str, ...]
    result: Callable[[Mapping[str, Any]], T]
    valid: Callable[[Mapping[str, Any]], bool] = _no_more_checks

    @property
    def required_claims(self) -> list[str]:
        return ["iss", "aud", *_COMMON_STRING_CLAIMS, *self.string_claims, *_TIME_CLAIMS]

    @property
    def all_string_claims(self) -> tuple[str, ...]:
        return (*_COMMON_STRING_CLAIMS, *self.string_claims)


def _access_claims(claims: Mapping[str, Any]) -> AccessClaims:
    return AccessClaims(
        customer_id=claims["sub"],
        member_id=claims["member_id"],
        session_id=claims["sid"],
        token_id=claims["jti"],
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


# A banking member's access token (issued by jwt_tokens.JwtTokenService): sub is the customer id.
MEMBER_ACCESS: TokenProfile[AccessClaims] = TokenProfile("member access token", ("member_id", "sid"), _access_claims)


class JwksTokenVerifier(Generic[T]):
    """Verifies one kind of token (the profile; member access tokens unless told) against a JWKS."""

    @overload
    def __init__(
        self: JwksTokenVerifier[AccessClaims],
        jwks: Mapping[str, Any],
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = ...,
        max_lifetime_seconds: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = ...,
        max_lifetime_seconds: int = ...,
        profile: TokenProfile[T],
    ) -> None: ...

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = MAX_LEEWAY_SECONDS,
        max_lifetime_seconds: int = 900,
        profile: TokenProfile[Any] = MEMBER_ACCESS,
    ) -> None:
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"leeway must be 0 to {MAX_LEEWAY_SECONDS} seconds")
        if max_lifetime_seconds <= 0:
            raise ValueError("max_lifetime_seconds must be positive")
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.max_lifetime_seconds = max_lifetime_seconds
        self.profile: TokenProfile[T] = profile
        self._keys = public_keys_from_jwks(jwks)
        # Tokens whose signature and time-independent claims passed, kept so that a client presenting the
        # same token again (each call of a session does) costs a dictionary lookup, not an ECDSA verification
        # and a JSON parse (0.6 of the 3.9 ms of CPU of a ListMyAccounts). Only what passed is kept, and
        # the time checks run on every call; the keys are per verifier, so a new key set (with_jwks) starts
        # empty. Bounded, least recently used first out.
        self._checked = functools.lru_cache(maxsize=CHECKED_TOKENS)(self._checked_claims)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def with_jwks(self, jwks: Mapping[str, Any]) -> JwksTokenVerifier[T]:
        """The same policy with a fresh key set (after a JWKS refresh, for key rotation)."""
        return JwksTokenVerifier(
            jwks,
            issuer=self.issuer,
            audience=self.audience,
            leeway_seconds=self.leeway_seconds,
            max_lifetime_seconds=self.max_lifetime_seconds,
            profile=self.profile,
        )

    def verify(self, token: str, now: datetime) -> T:
        """The claims of a valid token of this kind at `now`; InvalidToken for anything else."""
        if now.tzinfo is None:
            # A programming error, not a bad token: a naive time would be read as local time.
            raise ValueError("now must be timezone-aware")
        try:
            return self._verify(token, now.timestamp())
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            raise InvalidToken() from None

    def _verify(self, token: str, now: float) -> T:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise InvalidToken()
        claims = self._checked(token)
        self._check_times(claims, now)
        return self.profile.result(claims)

    def _checked_claims(self, token: str) -> Mapping[str, Any]:
        """The claims of a token whose header, signature and claims pass every check but the clock's."""
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if (
            not header.keys() <= _HEADER_NAMES
            or header.get("alg") != ALGORITHM
            or header.get("typ") != ACCESS_JWT_TYP
            or not isinstance(kid, str)
            or kid not in self._keys
        ):
            raise InvalidToken()
        claims = jwt.decode(
            token,
            key=self._keys[kid],
            algorithms=[ALGORITHM],
            issuer=self.issuer,
            audience=self.audience,
            # Time claims are checked below against the caller's `now` (PyJWT only knows the wall clock).
            options={
                "require": self.profile.required_claims,
                "strict_aud": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        if not all(isinstance(claims[name], str) and claims[name] for name in self.profile.all_string_claims):
            raise InvalidToken()
        # bool is an int in Python; `true` is not a time.
        iat, nbf, exp = (claims[name] for name in _TIME_CLAIMS)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (iat, nbf, exp)):
            raise InvalidToken()
        if not 0 < exp - iat <= self.max_lifetime_seconds:
            raise InvalidToken()
        if not self.profile.valid(claims):
            raise InvalidToken()
        return MappingProxyType(claims)  # shared by every later call with this token: read-only

    def _check_times(self, claims: Mapping[str, Any], now: float) -> None:
        leeway = self.leeway_seconds
        if now >= claims["exp"] + leeway or claims["nbf"] > now + leeway or claims["iat"] > now + leeway:
            raise InvalidToken()


def public_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """kid -> EC P-256 public key. A JWKS with anything else (another curve, a private member, a duplicate
    kid) is a configuration error: ValueError, at startup or refresh, never at a request."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", []):
        kid = jwk.get("kid")
        if "d" in jwk:
            raise ValueError(f"JWKS key {kid!r} holds private key material")
        if (
            jwk.get("kty") != "EC"
            or jwk.get("crv") != "P-256"
            or jwk.get("alg", ALGORITHM) != ALGORITHM
            or jwk.get("use", "sig") != "sig"
        ):
            raise ValueError(f"JWKS key {kid!r} is not an EC P-256 ES256 signing key")
        if not isinstance(kid, str) or not kid or kid in keys:
            raise ValueError(f"JWKS key id {kid!r} is missing or repeated")
        x, y = (int.from_bytes(_b64url_32(jwk.get(name)), "big") for name in ("x", "y"))
        # Checks that the point is on the curve (invalid-curve attacks).
        keys[kid] = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    if not keys:
        raise ValueError("the JWKS has no keys")
    return keys


def _b64url_32(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("JWKS coordinate is not a string")
    try:
        data = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except binascii.Error as error:
        raise ValueError("JWKS coordinate is not base64url") from error
    if len(data) != 32:
        raise ValueError("JWKS coordinate is not 32 bytes")
    return data
