"""The member service's ES256 signing keys: PEM files in one directory, published as a JWKS.

Each `<kid>.pem` file holds one EC P-256 private key (PKCS#8, unencrypted; the directory is the secret, mode
0700, files 0600). The newest file by modification time signs; every file's key is trusted for verification,
so rotation is: add a new key (it signs from the next start), wait one access-token lifetime plus the JWKS
cache time of the verifiers, then delete the old file. On first start with an empty directory one key is
made, so local runs need no setup."""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
# The kid is a file name and goes into every token header: keep it to a short, path-safe alphabet.
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


class SigningKeys:
    """All loaded keys; `current` signs."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.current = keys[0]
        self.keys = tuple(keys)

    def jwks(self) -> dict[str, Any]:
        """The JWKS (RFC 7517) of the public halves only: what /.well-known/jwks.json serves."""
        return {"keys": [_public_jwk(key) for key in self.keys]}


def load_or_create_signing_keys(directory: Path) -> SigningKeys:
    """The keys in `directory`, newest first; one new key is created if there is none."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask
    files = sorted(directory.glob("*.pem"), key=lambda path: (path.stat().st_mtime_ns, path.name), reverse=True)
    if not files:
        files = [_create_key_file(directory)]
    return SigningKeys([_load(path) for path in files])


def openid_configuration(issuer: str, jwks_uri: str) -> dict[str, Any]:
    """A discovery document (OpenID Connect Discovery 1.0 / RFC 8414 subset) for verifiers that look up the
    JWKS from the issuer. Only what is true of this service is listed: there is no authorization endpoint."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "claims_supported": ["iss", "aud", "sub", "member_id", "sid", "jti", "iat", "nbf", "exp"],
    }


def _create_key_file(directory: Path) -> Path:
    kid = secrets.token_hex(8)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = directory / f"{kid}.pem"
    # O_EXCL: never overwrite a key; the mode is set at creation, so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return path


def _load(path: Path) -> SigningKey:
    # A bad file stops the service at start: signing with a surprise key, or silently skipping one, is worse.
    kid = path.stem
    if not _KID.fullmatch(kid):
        raise ValueError(f"signing key file name {path.name!r} is not a valid kid ([A-Za-z0-9_-]{{1,64}}.pem)")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"signing key {path.name!r} is not an EC P-256 private key")
    return SigningKey(kid=kid, private_key=key)


def _public_jwk(key: SigningKey) -> dict[str, str]:
    numbers = key.private_key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "kid": key.kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
