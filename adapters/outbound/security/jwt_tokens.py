"""The TokenService port: ES256 access tokens (RFC 9068 JWT profile) and opaque refresh tokens.

Access token: header {alg: ES256, typ: at+jwt, kid}; claims iss, aud, sub (the customer id, what the other
services key their data by), member_id, sid (session id, for revocation), jti (for the deny-list), iat,
nbf = iat, exp = iat + lifetime (300 s by default). Verification is JwksTokenVerifier built from this
service's own JWKS, so the member service checks tokens exactly as my_accounts does.

Refresh token: 32 random bytes, URL-safe base64. Only its SHA-256 is stored: the token has 256 bits of
entropy, so a fast digest cannot be brute-forced and a slow, salted hash would only make lookups impossible."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import jwt

from adapters.outbound.security.jwt_verifier import ACCESS_JWT_TYP, ALGORITHM, JwksTokenVerifier
from adapters.outbound.security.signing_keys import SigningKeys
from domain.member.ports import IssuedAccessToken
from domain.shared.tokens import AccessClaims

if TYPE_CHECKING:
    from domain.member.model import BankingMember
    from domain.member.session import Session


class JwtTokenService:
    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        audience: str,
        lifetime_seconds: int = 300,
        max_lifetime_seconds: int = 900,
        leeway_seconds: int = 5,
    ) -> None:
        if not 0 < lifetime_seconds <= max_lifetime_seconds:
            raise ValueError("the token lifetime must be positive and at most max_lifetime_seconds")
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        self.verifier = JwksTokenVerifier(
            keys.jwks(),
            issuer=issuer,
            audience=audience,
            leeway_seconds=leeway_seconds,
            max_lifetime_seconds=max_lifetime_seconds,
        )

    def issue_access_token(self, member: BankingMember, session: Session, now: datetime) -> IssuedAccessToken:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        issued_at = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": member.customer_id,
            "member_id": member.member_id,
            "sid": session.session_id,
            "jti": uuid.uuid4().hex,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.lifetime_seconds,
        }
        signer = self._keys.current
        token = jwt.encode(
            claims, signer.private_key, algorithm=ALGORITHM, headers={"typ": ACCESS_JWT_TYP, "kid": signer.kid}
        )
        return IssuedAccessToken(token=token, expires_in_seconds=self.lifetime_seconds)

    def verify_access_token(self, token: str, now: datetime) -> AccessClaims:
        return self.verifier.verify(token, now)

    def new_refresh_token(self) -> str:
        return secrets.token_urlsafe(32)

    def refresh_token_digest(self, token: str) -> str:
        # Stored and looked up by equality in the database; any comparison in code uses hmac.compare_digest.
        # surrogatepass: a malformed token still gets a digest (that matches nothing) instead of an error.
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
