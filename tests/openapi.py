"""The committed OpenAPI document (deploy/envoy/openapi.json, written by scripts/gen_openapi.py) for tests:
every REST operation the gateway exposes, with its RPC, HTTP method, path and whether it needs a token.

    from tests.openapi import load_openapi, operations
    for op in operations():
        httpx.request(op.method, base + op.url(), ...)   # op.rpc == "bank.member.v1.MemberService/Login", ...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_FILE = ROOT / "deploy" / "envoy" / "openapi.json"
AUTH_EXTENSION = "x-bank-auth"
_VERBS = ("get", "put", "post", "delete", "options", "head", "patch")


@dataclass(frozen=True)
class Operation:
    rpc: str  # bank.member.v1.MemberService/Login
    method: str  # POST
    path: str  # /v1/accounts/{accountNumber}:deposit (variables by their JSON names)
    path_params: tuple[str, ...]  # ("accountNumber",), in path order
    public: bool  # no security requirement: callable without a token
    auth: str  # the gateway's rule class: "public", "member" or "operator"
    operation_id: str  # AccountService_Deposit

    @property
    def grpc_path(self) -> str:
        return f"/{self.rpc}"

    def url(self, **values: str) -> str:
        """The path with each variable filled in (values by JSON name; "x1" for those not given)."""
        return re.sub(r"\{([^}=]+)(=[^}]*)?\}", lambda m: values.get(m.group(1), "x1"), self.path)


@cache
def _load() -> str:
    return OPENAPI_FILE.read_text(encoding="utf-8")


def load_openapi() -> dict[str, Any]:
    """The committed document, parsed (a fresh copy on each call)."""
    return json.loads(_load())


def operations(doc: dict[str, Any] | None = None) -> list[Operation]:
    """Every operation of the document (default: the committed one), sorted by RPC then path. The RPC is the
    operation's tag (the full service name: the plugin runs with include_package_in_tags) and the method part of
    its operationId (`Service_Method`)."""
    doc = load_openapi() if doc is None else doc
    found = []
    for path, item in doc["paths"].items():
        for verb in _VERBS:
            if verb not in item:
                continue
            operation = item[verb]
            service = operation["tags"][0]
            short, _, method = operation["operationId"].partition("_")
            if not method or service.rsplit(".", 1)[-1] != short:
                raise ValueError(f"{verb.upper()} {path}: operationId {operation['operationId']} is not {service}_*")
            security = operation.get("security", doc.get("security", []))
            found.append(
                Operation(
                    rpc=f"{service}/{method}",
                    method=verb.upper(),
                    path=path,
                    path_params=tuple(re.findall(r"\{([^}=]+)", path)),
                    public=not security,
                    auth=operation.get(AUTH_EXTENSION, "public" if not security else "member"),
                    operation_id=operation["operationId"],
                )
            )
    return sorted(found, key=lambda op: (op.rpc, op.path, op.method))
