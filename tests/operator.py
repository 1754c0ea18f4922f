"""Operator tokens for tests, minted from the operator keys of a var directory: the `service_factory` fixture
gives every service of a test VAR_DIR=tmp_path/var, so the services verify against the keys minted with here
(whoever comes first makes them; the key directory is locked while it is done).

- `operator_metadata(var_dir)`: the `authorization` pair for one call;
- `operator_channel(address, var_dir)`: a channel that adds a fresh operator token to every operator RPC that
  carries no `authorization` of its own (the other RPCs go out as they are)."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from adapters.outbound.security.operator_tokens import issue_operator_token, load_or_create_operator_keys
from adapters.outbound.security.signing_keys import SigningKeys
from services.runtime.operators import operator_keys_dir
from tests.used_secrets import remember

OPERATOR_METHODS = frozenset(
    {
        *(
            f"/bank.customer.v1.CustomerService/{name}"
            for name in ("RegisterCustomer", "GetCustomer", "SuspendCustomer", "ReinstateCustomer", "TerminateCustomer")
        ),
        "/bank.member.v1.MemberService/EnrollMember",
        "/bank.member.v1.MemberService/UnlockMember",
    }
)

_keys: dict[Path, SigningKeys] = {}


def operator_keys(var_dir: Path | str) -> SigningKeys:
    directory = operator_keys_dir(var_dir)
    if directory not in _keys or not directory.exists():
        _keys[directory] = load_or_create_operator_keys(directory)
    return _keys[directory]


def operator_token(var_dir: Path | str, name: str = "tester", ttl_seconds: int = 900) -> str:
    token = issue_operator_token(operator_keys(var_dir), name, datetime.now(UTC), ttl_seconds)
    remember(token)  # for the secret scan after the suite
    return token


def operator_metadata(var_dir: Path | str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {operator_token(var_dir)}"), *more]


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _OperatorAuth(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, var_dir: Path | str) -> None:
        self._var_dir = var_dir

    def intercept_unary_unary(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        metadata = list(details.metadata or ())
        if details.method in OPERATOR_METHODS and not any(key == "authorization" for key, _ in metadata):
            metadata.append(("authorization", f"Bearer {operator_token(self._var_dir)}"))
            details = _Details(
                details.method,
                details.timeout,
                metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request)


def operator_channel(address: str, var_dir: Path | str) -> grpc.Channel:
    return grpc.intercept_channel(grpc.insecure_channel(address), _OperatorAuth(var_dir))
