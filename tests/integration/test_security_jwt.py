"""ES256 access tokens with real keys and crypto: issue/verify round trip, a corpus of bad tokens (RFC 8725
attacks, claim and time errors) all refused with InvalidToken, JWKS and key files, refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from adapters.outbound.security.jwt_tokens import JwtTokenService
from adapters.outbound.security.jwt_verifier import JwksTokenVerifier
from adapters.outbound.security.signing_keys import (
    SigningKeys,
    load_or_create_signing_keys,
    openid_configuration,
)
from domain.member.errors import InvalidToken

ISSUER = "https://member.bank.test"
AUDIENCE = "bank-api"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
T = int(NOW.timestamp())
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MEMBER = SimpleNamespace(member_id="8d2f7a1e-0a51-4c0f-9d6c-5f1a3e2b7c90", customer_id="c-42")
SESSION = SimpleNamespace(session_id="3b9e2c4d-1f0a-4e8b-a7d6-2c5e9f1b0a34")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def es256(signing_input: str, key: ec.EllipticCurvePrivateKey) -> str:
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@dataclass
class Forge:
    """Builds tokens by hand, so that each bad token differs from a good one in one way only."""

    keys: SigningKeys

    @property
    def kid(self) -> str:
        return self.keys.current.kid

    def header(self, **changes: Any) -> dict[str, Any]:
        return drop({"alg": "ES256", "typ": "at+jwt", "kid": self.kid} | changes)

    def claims(self, **changes: Any) -> dict[str, Any]:
        base = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": MEMBER.customer_id,
            "member_id": MEMBER.member_id,
            "sid": SESSION.session_id,
            "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "iat": T,
            "nbf": T,
            "exp": T + 300,
        }
        return drop(base | changes)

    def token(
        self,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        signing_input = f"{segment(header or self.header())}.{segment(claims or self.claims())}"
        return f"{signing_input}.{es256(signing_input, key or self.keys.current.private_key)}"


ABSENT = object()


def drop(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not ABSENT}


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeys:
    return load_or_create_signing_keys(tmp_path / "keys")


@pytest.fixture
def service(keys: SigningKeys) -> JwtTokenService:
    return JwtTokenService(keys, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def forge(keys: SigningKeys) -> Forge:
    return Forge(keys)


def test_issue_then_verify_round_trip(service: JwtTokenService, keys: SigningKeys) -> None:
    issued = service.issue_access_token(MEMBER, SESSION, NOW)  # type: ignore[arg-type]
    assert issued.expires_in_seconds == 300
    header_part, claims_part, _ = issued.token.split(".")
    assert json.loads(unb64(header_part)) == {"alg": "ES256", "typ": "at+jwt", "kid": keys.current.kid}
    claims = json.loads(unb64(claims_part))
    assert claims.keys() == {"iss", "aud", "sub", "member_id", "sid", "jti", "iat", "nbf", "exp"}
    assert len(claims["jti"]) == 32
    verified = service.verify_access_token(issued.token, NOW + timedelta(seconds=299))
    assert verified.customer_id == MEMBER.customer_id
    assert verified.member_id == MEMBER.member_id
    assert verified.session_id == SESSION.session_id
    assert verified.token_id == claims["jti"]
    assert (verified.issued_at, verified.expires_at) == (NOW, NOW + timedelta(seconds=300))
    again = service.issue_access_token(MEMBER, SESSION, NOW)  # type: ignore[arg-type]
    assert service.verify_access_token(again.token, NOW).token_id != verified.token_id


def test_leeway_is_five_seconds_at_both_ends(service: JwtTokenService, forge: Forge) -> None:
    token = service.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    service.verify_access_token(token, NOW + timedelta(seconds=304))
    with pytest.raises(InvalidToken):
        service.verify_access_token(token, NOW + timedelta(seconds=305))
    service.verify_access_token(token, NOW - timedelta(seconds=5))
    with pytest.raises(InvalidToken):
        service.verify_access_token(token, NOW - timedelta(seconds=6))
    # Lifetime exactly at the maximum is fine.
    service.verify_access_token(forge.token(claims=forge.claims(exp=T + 900)), NOW)


def hs256_with_public_pem(f: Forge) -> str:
    pem = f.keys.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{segment(f.header(alg='HS256'))}.{segment(f.claims())}"
    return f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def alg_none(alg: str, keep_signature: bool = False) -> Callable[[Forge], str]:
    def build(f: Forge) -> str:
        head, body, signature = f.token(header=f.header(alg=alg)).split(".")
        return f"{head}.{body}.{signature if keep_signature else ''}"

    return build


def tampered_sub(f: Forge) -> str:
    head, _, signature = f.token().split(".")
    return f"{head}.{segment(f.claims(sub='c-43'))}.{signature}"


def other_key_same_kid(f: Forge) -> str:
    return f.token(key=ec.generate_private_key(ec.SECP256R1()))


def attacker_jwk_header(f: Forge) -> str:
    attacker = ec.generate_private_key(ec.SECP256R1())
    numbers = attacker.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }
    return f.token(header=f.header(jwk=jwk), key=attacker)


def empty_signature(f: Forge) -> str:
    head, body, _ = f.token().split(".")
    return f"{head}.{body}."


def two_segments(f: Forge) -> str:
    return f.token().rsplit(".", 1)[0]


BAD_TOKENS: dict[str, Callable[[Forge], str]] = {
    "alg none": alg_none("none"),
    "alg None": alg_none("None"),
    "alg NONE": alg_none("NONE"),
    "alg nOnE": alg_none("nOnE"),
    "alg none, signature kept": alg_none("none", keep_signature=True),
    "alg ES384 header on an ES256 signature": alg_none("ES384", keep_signature=True),
    "HS256 signed with the public key PEM": hs256_with_public_pem,
    "unknown kid": lambda f: f.token(header=f.header(kid="unknown")),
    "kid path traversal": lambda f: f.token(header=f.header(kid="../../dev/null")),
    "kid SQL injection": lambda f: f.token(header=f.header(kid="' OR 1=1--")),
    "kid 10 KB": lambda f: f.token(header=f.header(kid="k" * 10_240)),
    "kid not a string": lambda f: f.token(header=f.header(kid=[f.kid])),
    "no kid": lambda f: f.token(header=f.header(kid=ABSENT)),
    "jku header": lambda f: f.token(header=f.header(jku="https://attacker.test/jwks.json")),
    "jwk header with the attacker's key": attacker_jwk_header,
    "crit header": lambda f: f.token(header=f.header(crit=["exp"])),
    "typ JWT": lambda f: f.token(header=f.header(typ="JWT")),
    "typ jwt": lambda f: f.token(header=f.header(typ="jwt")),
    "no typ": lambda f: f.token(header=f.header(typ=ABSENT)),
    "tampered sub, signature kept": tampered_sub,
    "signed by another key with the same kid": other_key_same_kid,
    "empty signature": empty_signature,
    "missing exp": lambda f: f.token(claims=f.claims(exp=ABSENT)),
    "missing iat": lambda f: f.token(claims=f.claims(iat=ABSENT)),
    "missing nbf": lambda f: f.token(claims=f.claims(nbf=ABSENT)),
    "expired beyond leeway": lambda f: f.token(claims=f.claims(iat=T - 306, nbf=T - 306, exp=T - 6)),
    "exp as a string": lambda f: f.token(claims=f.claims(exp=str(T + 300))),
    "exp true": lambda f: f.token(claims=f.claims(exp=True)),
    "exp as a float": lambda f: f.token(claims=f.claims(exp=T + 300.5)),
    "nbf in the future": lambda f: f.token(claims=f.claims(nbf=T + 60)),
    "iat in the future": lambda f: f.token(claims=f.claims(iat=T + 60, exp=T + 360)),
    "lifetime over the maximum": lambda f: f.token(claims=f.claims(exp=T + 901)),
    "exp before iat": lambda f: f.token(claims=f.claims(iat=T + 1, exp=T)),
    "wrong iss": lambda f: f.token(claims=f.claims(iss="https://attacker.test")),
    "missing iss": lambda f: f.token(claims=f.claims(iss=ABSENT)),
    "wrong aud": lambda f: f.token(claims=f.claims(aud="other-api")),
    "missing aud": lambda f: f.token(claims=f.claims(aud=ABSENT)),
    "aud list": lambda f: f.token(claims=f.claims(aud=[AUDIENCE, "other-api"])),
    "missing sub": lambda f: f.token(claims=f.claims(sub=ABSENT)),
    "sub not a string": lambda f: f.token(claims=f.claims(sub=42)),
    "empty sub": lambda f: f.token(claims=f.claims(sub="")),
    "missing member_id": lambda f: f.token(claims=f.claims(member_id=ABSENT)),
    "missing sid": lambda f: f.token(claims=f.claims(sid=ABSENT)),
    "missing jti": lambda f: f.token(claims=f.claims(jti=ABSENT)),
    "2 segments": two_segments,
    "4 segments": lambda f: f.token() + ".x",
    "empty string": lambda f: "",
    "garbage": lambda f: "not a token at all",
    "dots only": lambda f: "..",
    "header not JSON": lambda f: "bm90IGpzb24." + f.token().split(".", 1)[1],
    "over 4 KiB": lambda f: f.token(claims=f.claims(pad="x" * 5000)),
    "a refresh token": lambda f: JwtTokenService(f.keys, issuer=ISSUER, audience=AUDIENCE).new_refresh_token(),
}


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_tokens_are_refused(service: JwtTokenService, forge: Forge, name: str) -> None:
    token = BAD_TOKENS[name](forge)
    with pytest.raises(InvalidToken) as refused:
        service.verify_access_token(token, NOW)
    # One message for every cause; nothing of PyJWT's (which can quote the token) chained on.
    assert refused.value.message == "invalid or expired token"
    error = refused.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_the_forge_makes_good_tokens(service: JwtTokenService, forge: Forge) -> None:
    """The corpus above is meaningful only if the unmodified forged token passes."""
    assert service.verify_access_token(forge.token(), NOW).customer_id == MEMBER.customer_id


def test_malleated_ecdsa_signature_is_accepted(service: JwtTokenService) -> None:
    """ECDSA signatures are malleable: (r, n - s) is as valid as (r, s), and neither PyJWT nor cryptography
    (OpenSSL) insists on low s. So a second, different token string with the same claims verifies. That is
    harmless here because nothing is keyed by the token string: revocation deny-lists the `jti` and `sid`,
    which the copy shares (ASVS 5 / reliability 8.2 T10). This test pins the behaviour so a change is seen."""
    token = service.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    head, body, signature = token.split(".")
    raw = unb64(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    malleated = f"{head}.{body}.{b64(r + (P256_ORDER - s).to_bytes(32, 'big'))}"
    assert malleated != token
    original, copy = service.verify_access_token(token, NOW), service.verify_access_token(malleated, NOW)
    assert copy == original  # same jti and sid: the deny-list refuses both


def test_jwks_holds_public_keys_only_and_verifies_tokens(service: JwtTokenService, keys: SigningKeys) -> None:
    jwks = json.loads(json.dumps(keys.jwks()))  # as fetched over HTTP
    [jwk] = jwks["keys"]
    assert jwk.keys() == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"], jwk["kid"]) == (
        "EC",
        "P-256",
        "ES256",
        "sig",
        keys.current.kid,
    )
    verifier = JwksTokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    token = service.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    assert verifier.verify(token, NOW).member_id == MEMBER.member_id
    with pytest.raises(InvalidToken):
        JwksTokenVerifier(jwks, issuer=ISSUER, audience="my-accounts").verify(token, NOW)


def test_a_checked_token_is_kept_but_its_times_and_keys_still_count(
    service: JwtTokenService, keys: SigningKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = JwksTokenVerifier(keys.jwks(), issuer=ISSUER, audience=AUDIENCE)
    token = service.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    for second in range(0, 300, 30):
        assert verifier.verify(token, NOW + timedelta(seconds=second)).session_id == SESSION.session_id
    assert len(decoded) == 1  # the signature was checked once, the times on every call
    with pytest.raises(InvalidToken):
        verifier.verify(token, NOW + timedelta(seconds=305))  # expired, though kept
    with pytest.raises(InvalidToken):
        verifier.verify(token, NOW - timedelta(seconds=6))  # not yet valid, though kept
    other = load_or_create_signing_keys(tmp_path / "other")
    with pytest.raises(InvalidToken):
        verifier.with_jwks(other.jwks()).verify(token, NOW)  # a new key set starts from nothing
    before = len(decoded)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):  # a refusal is never kept: both attempts are verified, and refused
        with pytest.raises(InvalidToken):
            verifier.verify(forged, NOW)
    assert len(decoded) == before + 2


@pytest.mark.parametrize(
    "broken",
    [
        {"d": "AAAA"},
        {"crv": "P-384"},
        {"kty": "RSA"},
        {"alg": "HS256"},
        {"use": "enc"},
        {"kid": None},
        {"x": "not base64!"},
        {"y": b64(b"\x01" * 32)},  # not on the curve
    ],
)
def test_jwks_with_anything_but_public_p256_keys_is_a_configuration_error(keys: SigningKeys, broken: dict) -> None:
    [jwk] = keys.jwks()["keys"]
    with pytest.raises(ValueError):
        JwksTokenVerifier({"keys": [jwk | broken]}, issuer=ISSUER, audience=AUDIENCE)


def test_configuration_limits(keys: SigningKeys) -> None:
    with pytest.raises(ValueError):
        JwksTokenVerifier(keys.jwks(), issuer=ISSUER, audience=AUDIENCE, leeway_seconds=6)
    with pytest.raises(ValueError):
        JwtTokenService(keys, issuer=ISSUER, audience=AUDIENCE, lifetime_seconds=901)
    with pytest.raises(ValueError):
        JwtTokenService(keys, issuer=ISSUER, audience=AUDIENCE).verify_access_token("x", datetime(2030, 1, 1))


def test_key_files_rotation_and_permissions(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    first = load_or_create_signing_keys(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [path] = directory.glob("*.pem")
    assert (path.stem, stat.S_IMODE(path.stat().st_mode)) == (first.current.kid, 0o600)
    assert load_or_create_signing_keys(directory).current.kid == first.current.kid  # no second key made
    old_token = JwtTokenService(first, issuer=ISSUER, audience=AUDIENCE).issue_access_token(MEMBER, SESSION, NOW)  # type: ignore[arg-type]

    # Rotation: a newer key file signs; the old key still verifies until its file is removed.
    new_key = ec.generate_private_key(ec.SECP256R1())
    pem = new_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / "k2026-11").write_bytes(b"")  # not *.pem: ignored
    newer = directory / "k2026-11.pem"
    newer.write_bytes(pem)
    rotated = load_or_create_signing_keys(directory)
    assert rotated.current.kid == "k2026-11"
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {"k2026-11", first.current.kid}
    service = JwtTokenService(rotated, issuer=ISSUER, audience=AUDIENCE)
    assert service.verify_access_token(old_token.token, NOW).member_id == MEMBER.member_id
    new_token = service.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    assert json.loads(unb64(new_token.split(".")[0]))["kid"] == "k2026-11"

    path.unlink()
    retired = JwtTokenService(load_or_create_signing_keys(directory), issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(InvalidToken):
        retired.verify_access_token(old_token.token, NOW)
    assert retired.verify_access_token(new_token, NOW).member_id == MEMBER.member_id


def test_unusable_key_files_stop_the_start(tmp_path: Path) -> None:
    (tmp_path / "bad kid!.pem").write_bytes(b"")
    with pytest.raises(ValueError):
        load_or_create_signing_keys(tmp_path)
    (tmp_path / "bad kid!.pem").unlink()
    (tmp_path / "p384.pem").write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError):
        load_or_create_signing_keys(tmp_path)


def test_openid_configuration() -> None:
    document = openid_configuration(ISSUER, f"{ISSUER}/.well-known/jwks.json")
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]


def test_refresh_tokens_are_random_and_stored_as_sha256(service: JwtTokenService) -> None:
    tokens = {service.new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert len(unb64(token)) == 32
    digest = service.refresh_token_digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert hmac.compare_digest(digest, service.refresh_token_digest(token))
    assert digest != service.refresh_token_digest(tokens.pop())
    assert len(service.refresh_token_digest("\ud800")) == 64  # odd input still gets a digest
