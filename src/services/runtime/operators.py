"""The operator check of the services that have operator RPCs (customer, member), from the environment:

- OPERATOR_JWKS_FILE: the operator JWKS (public keys only), default `$VAR_DIR/keys/operator/jwks.json`. In
  production it is mounted from a Secret (the same file the gateway's jwt_authn reads as local_jwks) and the
  private keys are not on the service's machine. Locally, if the default file does not exist at start, the
  service creates the operator keys in `$VAR_DIR/keys/operator/` and the file, so a local run needs no setup
  (`bank operator-token` signs with the same keys). A non-default path that does not exist stops the start:
  a mistyped Secret path must not quietly make a key nobody else has.
- MEMBER_JWKS_URL (customer service only, optional): the member service's JWKS, so that a banking member's
  access token is answered PERMISSION_DENIED rather than UNAUTHENTICATED. Unset: every token that is not an
  operator token is UNAUTHENTICATED. The member service uses its own keys for this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.outbound.security.operator_tokens import JWKS_FILE_NAME, JwksFileVerifier, load_or_create_operator_keys
from services.runtime.settings import env

OPERATOR_KEYS_SUBDIR = Path("keys") / "operator"


def operator_keys_dir(var_dir: Path | str) -> Path:
    return Path(var_dir) / OPERATOR_KEYS_SUBDIR


@dataclass(frozen=True)
class OperatorSettings:
    jwks_file: Path
    keys_dir: Path  # where a local run creates the keys if jwks_file is the default one and missing
    member_jwks_url: str  # "" = not configured
    member_issuer: str
    member_audience: str

    @classmethod
    def from_env(cls) -> OperatorSettings:
        keys_dir = operator_keys_dir(env("VAR_DIR", "var"))
        return cls(
            jwks_file=Path(env("OPERATOR_JWKS_FILE", str(keys_dir / JWKS_FILE_NAME))),
            keys_dir=keys_dir,
            member_jwks_url=env("MEMBER_JWKS_URL", ""),
            member_issuer=env("JWT_ISSUER", "bank-member"),
            member_audience=env("JWT_AUDIENCE", "bank-api"),
        )


def operator_verifier(settings: OperatorSettings) -> JwksFileVerifier:
    """The verifier of operator tokens; at a first local start, the operator keys are made first."""
    path = settings.jwks_file
    if not path.exists():
        if path.resolve() != (settings.keys_dir / JWKS_FILE_NAME).resolve():
            raise SystemExit(f"OPERATOR_JWKS_FILE={path} does not exist")
        load_or_create_operator_keys(settings.keys_dir)
    return JwksFileVerifier(path)
