"""Operator tokens: ES256 JWT access tokens (RFC 9068, header typ "at+jwt") for the operator RPCs (the customer
lifecycle, EnrollMember, UnlockMember), from an issuer of their own with keys of their own, so a banking
member's access token can never pass for one (different iss, aud and keys).

Claims: iss "bank-operator", aud "bank-ops", sub = the operator's name ([a-z0-9._-]{1,64}), scope (a
space-separated list, RFC 8693 §4.2) holding "bank.operator", jti, iat, nbf = iat, exp = iat + lifetime
(900 s by default, at most 3600 s). Verification is the system's one JwksTokenVerifier with the OPERATOR
profile.

Keys: `<kid>.pem` files in one directory (signing_keys.py: 0700/0600, created on first use), and beside them
`jwks.json`, the public halves, which is what verifiers read: the services (JwksFileVerifier) and the
gateway (Envoy jwt_authn local_jwks). Whoever loads the private keys (`bank operator-token`, a service
starting on a fresh machine) rewrites jwks.json from them under a file lock, so processes starting together
make one key, not one each. In production only jwks.json is deployed (from a Secret); the private keys stay
with whoever issues operator tokens."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from adapters.outbound.security.jwt_verifier import (
    ACCESS_JWT_TYP,
    ALGORITHM,
    MAX_LEEWAY_SECONDS,
    JwksTokenVerifier,
    TokenProfile,
)
from adapters.outbound.security.signing_keys import SigningKeys, load_or_create_signing_keys
from domain.shared.errors import InvalidToken
from domain.shared.tokens import OperatorClaims

log = logging.getLogger(__name__)

OPERATOR_ISSUER = "bank-operator"
OPERATOR_AUDIENCE = "bank-ops"
OPERATOR_SCOPE = "bank.operator"
DEFAULT_LIFETIME_SECONDS = 900
MAX_LIFETIME_SECONDS = 3600
JWKS_FILE_NAME = "jwks.json"
OPERATOR_NAME = re.compile(r"[a-z0-9._-]{1,64}")
_MAX_JWKS_BYTES = 1_000_000


def _is_operator(claims: Mapping[str, Any]) -> bool:
    scope = claims.get("scope")
    return (
        isinstance(scope, str)
        and OPERATOR_SCOPE in scope.split(" ")
        and OPERATOR_NAME.fullmatch(claims["sub"]) is not None
    )


def _operator_claims(claims: Mapping[str, Any]) -> OperatorClaims:
    return OperatorClaims(
        operator=claims["sub"], token_id=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC)
    )


OPERATOR: TokenProfile[OperatorClaims] = TokenProfile("operator token", ("scope",), _operator_claims, _is_operator)


def operator_verifier(
    jwks: Mapping[str, Any], *, leeway_seconds: int = MAX_LEEWAY_SECONDS
) -> JwksTokenVerifier[OperatorClaims]:
    return JwksTokenVerifier(
        jwks,
        issuer=OPERATOR_ISSUER,
        audience=OPERATOR_AUDIENCE,
        leeway_seconds=leeway_seconds,
        max_lifetime_seconds=MAX_LIFETIME_SECONDS,
        profile=OPERATOR,
    )


def issue_operator_token(
    keys: SigningKeys, operator: str, now: datetime, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS
) -> str:
    """A fresh operator token signed with the current key. ValueError for a bad name or lifetime."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not OPERATOR_NAME.fullmatch(operator):
        raise ValueError("the operator name must be 1-64 characters of a-z, 0-9, '.', '_' and '-'")
    if not 0 < lifetime_seconds <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"the token lifetime must be 1 to {MAX_LIFETIME_SECONDS} seconds")
    issued_at = int(now.timestamp())
    claims = {
        "iss": OPERATOR_ISSUER,
        "aud": OPERATOR_AUDIENCE,
        "sub": operator,
        "scope": OPERATOR_SCOPE,
        "jti": uuid.uuid4().hex,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime_seconds,
    }
    signer = keys.current
    return jwt.encode(
        claims, signer.private_key, algorithm=ALGORITHM, headers={"typ": ACCESS_JWT_TYP, "kid": signer.kid}
    )


def load_or_create_operator_keys(directory: Path) -> SigningKeys:
    """The operator keys in `directory` (one is made if there is none), with `directory/jwks.json` brought
    up to date. Serialized by a lock file, so concurrent first starts agree on one key."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        keys = load_or_create_signing_keys(directory)
        write_jwks(directory / JWKS_FILE_NAME, keys.jwks())
    finally:
        os.close(fd)  # closing releases the lock
    return keys


def write_jwks(path: Path, jwks: Mapping[str, Any]) -> None:
    """Replace the file atomically (readers see the old or the new key set, never half of one); left alone
    if it already holds these keys, so its modification time means "the keys changed"."""
    text = json.dumps(jwks, indent=2, sort_keys=True) + "\n"
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.chmod(0o644)  # public keys: the gateway may run as another user
    os.replace(temporary, path)


def read_jwks(path: Path) -> dict[str, Any]:
    """The JWKS in the file; ValueError if it is not a JSON object with a list of key objects."""
    with path.open("rb") as file:
        jwks = json.loads(file.read(_MAX_JWKS_BYTES))
    if not isinstance(jwks, dict) or not isinstance(keys := jwks.get("keys"), list):
        raise ValueError(f"{path} is not a JWKS")
    if not all(isinstance(key, dict) for key in keys):
        raise ValueError(f"{path} holds a key that is not a JSON object")
    return jwks


class JwksFileVerifier:
    """Operator tokens verified against a JWKS file (OPERATOR_JWKS_FILE). Read at start (a missing or bad
    file stops the start); read again only when a token names a key we do not have and the file has changed
    since (a rotation: a new key was published), so a known key costs no I/O. A bad new file is logged and
    the current keys kept."""

    def __init__(self, path: Path, *, leeway_seconds: int = MAX_LEEWAY_SECONDS) -> None:
        self._path = path
        self._leeway = leeway_seconds
        self._stamp = self._file_stamp()
        self._verifier = operator_verifier(read_jwks(path), leeway_seconds=leeway_seconds)

    @property
    def kids(self) -> frozenset[str]:
        return self._verifier.kids

    def verify(self, token: str, now: datetime) -> OperatorClaims:
        try:
            return self._verifier.verify(token, now)
        except InvalidToken:
            if not self._names_unknown_key(token) or not self._reload():
                raise
        return self._verifier.verify(token, now)

    def _names_unknown_key(self, token: str) -> bool:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and kid not in self._verifier.kids

    def _file_stamp(self) -> tuple[int, int, int]:
        stat = self._path.stat()
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _reload(self) -> bool:
        """True if the file changed and its keys were loaded. Each version of the file is read once, good or
        bad: tokens with made-up key ids cost a stat, not a read."""
        try:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            self._verifier = self._verifier.with_jwks(read_jwks(self._path))
        except (OSError, ValueError) as exc:
            log.warning("operator JWKS %s unreadable (%s); keeping the current keys", self._path, type(exc).__name__)
            return False
        return True
