"""Operator tokens with real keys and crypto: the OPERATOR profile of the one JWT verifier (issue/verify round
trip, a corpus of bad tokens each differing from a good one in one way, member and operator tokens never
passing for each other), the profiles themselves, the key directory with its jwks.json, and the JWKS file
verifier picking up a rotated key."""

from __future__ import annotations

import json
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.outbound.security.jwt_tokens import JwtTokenService
from adapters.outbound.security.jwt_verifier import MEMBER_ACCESS, JwksTokenVerifier
from adapters.outbound.security.operator_tokens import (
    OPERATOR,
    JwksFileVerifier,
    issue_operator_token,
    load_or_create_operator_keys,
    operator_verifier,
)
from adapters.outbound.security.signing_keys import SigningKeys, load_or_create_signing_keys
from domain.shared.errors import InvalidToken
from services.runtime.operators import OperatorSettings
from services.runtime.operators import operator_verifier as verifier_from_settings
from tests.integration.test_security_jwt import ABSENT, alg_none, drop, es256, segment, unb64

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
T = int(NOW.timestamp())
MEMBER = SimpleNamespace(member_id="8d2f7a1e-0a51-4c0f-9d6c-5f1a3e2b7c90", customer_id="c-42")
SESSION = SimpleNamespace(session_id="3b9e2c4d-1f0a-4e8b-a7d6-2c5e9f1b0a34")


@dataclass
class Forge:
    keys: SigningKeys

    def header(self, **changes: Any) -> dict[str, Any]:
        return drop({"alg": "ES256", "typ": "at+jwt", "kid": self.keys.current.kid} | changes)

    def claims(self, **changes: Any) -> dict[str, Any]:
        base = {
            "iss": "bank-operator",
            "aud": "bank-ops",
            "sub": "ops.kim",
            "scope": "bank.operator",
            "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "iat": T,
            "nbf": T,
            "exp": T + 900,
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


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeys:
    return load_or_create_operator_keys(tmp_path / "operator")


@pytest.fixture
def verifier(keys: SigningKeys) -> JwksTokenVerifier:
    return operator_verifier(keys.jwks())


@pytest.fixture
def forge(keys: SigningKeys) -> Forge:
    return Forge(keys)


def test_profiles_name_the_claims_each_kind_needs() -> None:
    # The member profile is exactly the check the member tokens always had.
    assert MEMBER_ACCESS.required_claims == ["iss", "aud", "sub", "jti", "member_id", "sid", "iat", "nbf", "exp"]
    assert OPERATOR.required_claims == ["iss", "aud", "sub", "jti", "scope", "iat", "nbf", "exp"]


def test_issue_then_verify_round_trip(keys: SigningKeys, verifier: JwksTokenVerifier) -> None:
    token = issue_operator_token(keys, "ops.kim", NOW)
    head, body, _ = token.split(".")
    assert json.loads(unb64(head)) == {"alg": "ES256", "typ": "at+jwt", "kid": keys.current.kid}
    claims = json.loads(unb64(body))
    assert claims.keys() == {"iss", "aud", "sub", "scope", "jti", "iat", "nbf", "exp"}
    assert (claims["iss"], claims["aud"], claims["sub"], claims["scope"]) == (
        "bank-operator",
        "bank-ops",
        "ops.kim",
        "bank.operator",
    )
    assert claims["nbf"] == claims["iat"] == T and claims["exp"] == T + 900
    verified = verifier.verify(token, NOW + timedelta(seconds=899))
    assert (verified.operator, verified.token_id, verified.expires_at) == (
        "ops.kim",
        claims["jti"],
        NOW + timedelta(seconds=900),
    )
    long = issue_operator_token(keys, "a" * 64, NOW, lifetime_seconds=3600)
    assert verifier.verify(long, NOW + timedelta(seconds=3599)).operator == "a" * 64


@pytest.mark.parametrize(
    ("name", "lifetime"), [("Ops", 900), ("ops kim", 900), ("", 900), ("a" * 65, 900), ("ops", 0), ("ops", 3601)]
)
def test_issuing_refuses_bad_names_and_lifetimes(keys: SigningKeys, name: str, lifetime: int) -> None:
    with pytest.raises(ValueError):
        issue_operator_token(keys, name, NOW, lifetime)


def test_issuing_needs_an_aware_time(keys: SigningKeys) -> None:
    with pytest.raises(ValueError):
        issue_operator_token(keys, "ops", datetime(2030, 1, 1))


BAD = {
    "typ JWT": lambda f: f.token(header=f.header(typ="JWT")),
    "no typ": lambda f: f.token(header=f.header(typ=ABSENT)),
    "alg none": alg_none("none"),
    "unknown kid": lambda f: f.token(header=f.header(kid="unknown")),
    "signed by another key with the same kid": lambda f: f.token(key=ec.generate_private_key(ec.SECP256R1())),
    "member issuer": lambda f: f.token(claims=f.claims(iss="bank-member")),
    "wrong issuer": lambda f: f.token(claims=f.claims(iss="https://attacker.test")),
    "member audience": lambda f: f.token(claims=f.claims(aud="bank-api")),
    "audience list": lambda f: f.token(claims=f.claims(aud=["bank-ops", "bank-api"])),
    "missing scope": lambda f: f.token(claims=f.claims(scope=ABSENT)),
    "empty scope": lambda f: f.token(claims=f.claims(scope="")),
    "another scope": lambda f: f.token(claims=f.claims(scope="bank.read")),
    "scope prefix only": lambda f: f.token(claims=f.claims(scope="bank.operators")),
    "scope as a list": lambda f: f.token(claims=f.claims(scope=["bank.operator"])),
    "sub in capitals": lambda f: f.token(claims=f.claims(sub="Ops.Kim")),
    "sub with a space": lambda f: f.token(claims=f.claims(sub="ops kim")),
    "sub 65 characters": lambda f: f.token(claims=f.claims(sub="a" * 65)),
    "sub with a newline": lambda f: f.token(claims=f.claims(sub="ops\nkim")),
    "empty sub": lambda f: f.token(claims=f.claims(sub="")),
    "missing jti": lambda f: f.token(claims=f.claims(jti=ABSENT)),
    "expired": lambda f: f.token(claims=f.claims(iat=T - 906, nbf=T - 906, exp=T - 6)),
    "not yet valid": lambda f: f.token(claims=f.claims(nbf=T + 60)),
    "lifetime over an hour": lambda f: f.token(claims=f.claims(exp=T + 3601)),
    "garbage": lambda f: "not a token",
    "member access token signed with the operator key": lambda f: (
        JwtTokenService(f.keys, issuer="bank-member", audience="bank-api")
        .issue_access_token(MEMBER, SESSION, NOW)  # type: ignore[arg-type]
        .token
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_operator_tokens_are_refused(verifier: JwksTokenVerifier, forge: Forge, name: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(BAD[name](forge), NOW)
    assert refused.value.message == "invalid or expired token"


def test_the_forge_makes_good_tokens_and_scope_is_a_list(verifier: JwksTokenVerifier, forge: Forge) -> None:
    assert verifier.verify(forge.token(), NOW).operator == "ops.kim"
    assert verifier.verify(forge.token(claims=forge.claims(scope="openid bank.operator")), NOW).operator == "ops.kim"


def test_member_and_operator_tokens_never_pass_for_each_other(tmp_path: Path, keys: SigningKeys) -> None:
    member_keys = load_or_create_signing_keys(tmp_path / "member")
    members = JwtTokenService(member_keys, issuer="bank-member", audience="bank-api")
    member_token = members.issue_access_token(MEMBER, SESSION, NOW).token  # type: ignore[arg-type]
    operator_token = issue_operator_token(keys, "ops.kim", NOW)
    with pytest.raises(InvalidToken):  # the member's own keys: still not an operator token
        operator_verifier(member_keys.jwks()).verify(member_token, NOW)
    with pytest.raises(InvalidToken):
        members.verify_access_token(operator_token, NOW)
    # Even with the operator's keys, issuer and audience, the member profile wants member_id and sid.
    member_profile = JwksTokenVerifier(keys.jwks(), issuer="bank-operator", audience="bank-ops")
    with pytest.raises(InvalidToken):
        member_profile.verify(operator_token, NOW)
    assert members.verify_access_token(member_token, NOW).member_id == MEMBER.member_id


def test_with_jwks_keeps_the_profile(keys: SigningKeys, tmp_path: Path) -> None:
    other = load_or_create_signing_keys(tmp_path / "other")
    rotated = operator_verifier(keys.jwks()).with_jwks(other.jwks())
    assert rotated.profile is OPERATOR and rotated.max_lifetime_seconds == 3600
    assert rotated.verify(issue_operator_token(other, "ops", NOW), NOW).operator == "ops"


def test_key_directory_and_jwks_file(tmp_path: Path) -> None:
    directory = tmp_path / "keys" / "operator"
    keys = load_or_create_operator_keys(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [pem] = directory.glob("*.pem")
    assert (pem.stem, stat.S_IMODE(pem.stat().st_mode)) == (keys.current.kid, 0o600)
    jwks_file = directory / "jwks.json"
    jwks = json.loads(jwks_file.read_text())
    assert jwks == keys.jwks() and all("d" not in key for key in jwks["keys"])
    stamp = jwks_file.stat().st_mtime_ns
    assert load_or_create_operator_keys(directory).current.kid == keys.current.kid
    assert jwks_file.stat().st_mtime_ns == stamp  # unchanged keys: the file is left alone


def test_concurrent_first_starts_make_one_key(tmp_path: Path) -> None:
    directory = tmp_path / "operator"
    kids: list[str] = []
    threads = [
        threading.Thread(target=lambda: kids.append(load_or_create_operator_keys(directory).current.kid))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1 and len(list(directory.glob("*.pem"))) == 1


def test_the_file_verifier_picks_up_a_rotated_key(tmp_path: Path) -> None:
    directory = tmp_path / "operator"
    first = load_or_create_operator_keys(directory)
    verifier = JwksFileVerifier(directory / "jwks.json")
    assert verifier.verify(issue_operator_token(first, "ops", NOW), NOW).operator == "ops"
    # Rotation: a new key file, published by the next load (as `bank operator-token` does).
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / "k2030-01.pem").write_bytes(pem)
    rotated = load_or_create_operator_keys(directory)
    assert rotated.current.kid == "k2030-01"
    assert verifier.verify(issue_operator_token(rotated, "ops", NOW), NOW).operator == "ops"
    assert verifier.kids == {"k2030-01", first.current.kid}
    # A broken file is not taken: the keys in use stay.
    (directory / "jwks.json").write_text("{not json")
    stranger = Forge(load_or_create_signing_keys(tmp_path / "stranger"))
    with pytest.raises(InvalidToken):
        verifier.verify(stranger.token(), NOW)
    assert verifier.verify(issue_operator_token(rotated, "ops", NOW), NOW).operator == "ops"


def test_a_missing_jwks_file_is_made_only_at_its_default_place(tmp_path: Path) -> None:
    keys_dir = tmp_path / "var" / "keys" / "operator"
    settings = OperatorSettings(keys_dir / "jwks.json", keys_dir, "", "bank-member", "bank-api")
    verifier = verifier_from_settings(settings)
    assert (keys_dir / "jwks.json").exists() and len(verifier.kids) == 1
    elsewhere = OperatorSettings(tmp_path / "secret" / "jwks.json", keys_dir, "", "bank-member", "bank-api")
    with pytest.raises(SystemExit):
        verifier_from_settings(elsewhere)
