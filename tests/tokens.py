"""The corpus of forged, expired, mis-signed, mis-addressed and mis-typed tokens (reliability.md T1-T8), made
from a `Signer` holding the key the verifiers trust, so each entry differs from an acceptable token in one
way only. Used at the gateway (tests/gateway) and at every service called directly (tests/integration).

`envoy_refuses`: Envoy's jwt_authn can tell (signature, alg, kid, iss, aud, exp, nbf, lifetime). The others
(typ, the header allowlist, required claims, size) pass the gateway by design and are refused by the service
behind it, whose verifier (adapters/outbound/security/jwt_verifier.py) checks them: the second layer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.gateway.harness import Signer


@dataclass(frozen=True)
class Forged:
    name: str
    token: str
    envoy_refuses: bool = True


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def forged_tokens(trusted: Signer, other_issuer: Signer) -> list[Forged]:
    """At least 30 tokens that must all be refused where `trusted` tokens are accepted. `other_issuer`: a
    signer of the other token class (operator tokens where member tokens are expected, and the reverse)."""
    now = int(time.time())
    valid = trusted.token()
    header, payload, signature = _segments(valid)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = {**claims, "sub": "someone-else"}
    public_pem = trusted.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64({"alg": "HS256", "typ": "at+jwt", "kid": trusted.kid})
    hs_mac = hmac.new(public_pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    same_kid = Signer(trusted.issuer, trusted.audience, dict(trusted.claims), kid=trusted.kid)  # another key
    attacker = Signer(trusted.issuer, trusted.audience, dict(trusted.claims))
    attacker_jwk = attacker.jwks()["keys"][0]
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    another = trusted.token()
    real = trusted.key

    def signed(payload_claims: dict[str, Any], **header_fields: Any) -> str:
        """Signed with the trusted key: only the claims or header fields given differ."""
        fields = {"kid": trusted.kid, "typ": "at+jwt", **header_fields}
        return jwt.encode(payload_claims, real, algorithm="ES256", headers={k: v for k, v in fields.items() if v})

    corpus = [
        Forged("another key with the trusted kid", same_kid.token()),
        Forged("tampered sub, original signature", f"{header}.{b64(tampered)}.{signature}"),
        Forged("signature of another token", f"{header}.{payload}.{_segments(another)[2]}"),
        Forged("empty signature", f"{header}.{payload}."),
        Forged("two segments", f"{header}.{payload}"),
        Forged("four segments", f"{valid}.{signature}"),
        Forged("HS256 keyed with the public key", f"{hs_header}.{payload}.{b64(hs_mac)}"),
        Forged("ES384 with a P-384 key", jwt.encode(claims, p384, "ES384", headers={"kid": trusted.kid})),
        Forged("RS256 with an RSA key", jwt.encode(claims, rsa_key, "RS256", headers={"kid": trusted.kid})),
        Forged("unknown kid", trusted.token(headers={"kid": "nope"})),
        Forged("kid path traversal", trusted.token(headers={"kid": "../../dev/null"})),
        Forged("kid injection", trusted.token(headers={"kid": "' OR 1=1--"})),
        Forged("embedded jwk", attacker.token(headers={"jwk": attacker_jwk, "kid": attacker.kid})),
        Forged("jku to an attacker's keys", attacker.token(headers={"jku": "http://127.0.0.1:1/jwks.json"})),
        Forged("x5u to an attacker's chain", attacker.token(headers={"x5u": "http://127.0.0.1:1/x5u.pem"})),
        Forged("expired beyond the skew", trusted.token(iat=now - 300, nbf=now - 300, exp=now - 7)),
        Forged("not yet valid", trusted.token(nbf=now + 60)),
        Forged("no exp", trusted.token(exp=None)),
        Forged("exp as a string", trusted.token(exp=str(now + 300))),
        Forged("lifetime over the maximum", trusted.token(lifetime=3600 * 2)),
        Forged("wrong issuer", trusted.token(iss="https://evil.example")),
        Forged("no issuer", trusted.token(iss=None)),
        Forged("wrong audience", trusted.token(aud="bank-elsewhere")),
        Forged("no audience", trusted.token(aud=None)),
        Forged("the other token class", other_issuer.token()),
        Forged("garbage", "not-a-jwt"),
        Forged("an opaque refresh-token-like string", secrets.token_urlsafe(32)),
        *(
            Forged(f"alg {alg}", f"{b64({'alg': alg, 'typ': 'at+jwt', 'kid': trusted.kid})}.{payload}.")
            for alg in ("none", "None", "NONE", "nOnE")
        ),
        # Signed with the trusted key and inside the policy Envoy checks; wrong only for the service's verifier.
        Forged("typ JWT instead of at+jwt", signed(claims, typ="JWT"), envoy_refuses=False),
        Forged("no typ", signed(claims, typ=None), envoy_refuses=False),
        Forged("crit header", signed(claims, crit=["exp"]), envoy_refuses=False),
        Forged("no sub", signed({k: v for k, v in claims.items() if k != "sub"}), envoy_refuses=False),
        Forged("no jti", signed({k: v for k, v in claims.items() if k != "jti"}), envoy_refuses=False),
    ]
    # Refused by the gateway on its size alone (the services' own limit), before its signature is even checked.
    corpus.append(Forged("over 4 KiB", signed({**claims, "pad": "x" * 5000})))
    assert len({f.name for f in corpus}) == len(corpus) >= 30
    return corpus
