"""Operator tokens for the CLI: `bank operator-token` prints one, and the commands calling operator RPCs
(`bank demo`) attach one. Signed in-process with the operator keys of the var directory
(`<var>/keys/operator/`, the keys the services started by `bank up` verify against; made on first use, with
their jwks.json)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from services.cli.console import CliError
from services.cli.paths import Paths

DEFAULT_NAME = "operator"


def default_name() -> str:
    """The login name if it is a valid operator name, else "operator"."""
    from adapters.outbound.security.operator_tokens import OPERATOR_NAME

    try:
        name = getpass.getuser().lower()
    except (KeyError, OSError):
        return DEFAULT_NAME
    return name if OPERATOR_NAME.fullmatch(name) else DEFAULT_NAME


def operator_token(paths: Paths, name: str | None = None, ttl_seconds: int | None = None) -> str:
    # Imported here: only the commands that need a token load the crypto libraries.
    from adapters.outbound.security.operator_tokens import (
        DEFAULT_LIFETIME_SECONDS,
        issue_operator_token,
        load_or_create_operator_keys,
    )
    from services.runtime.operators import operator_keys_dir

    directory = operator_keys_dir(paths.var)
    try:
        keys = load_or_create_operator_keys(directory)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot use the operator keys in {directory}: {exc}") from None
    try:
        lifetime = DEFAULT_LIFETIME_SECONDS if ttl_seconds is None else ttl_seconds
        return issue_operator_token(keys, name or default_name(), datetime.now(UTC), lifetime)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def operator_metadata(token: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {token}")
