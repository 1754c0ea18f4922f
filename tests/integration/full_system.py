"""The four services on their own ports, with the real Envoy gateway in front of them, and three ways to
call any RPC of their contracts by its full name ("bank.member.v1.MemberService/Login") with a request in
proto3 JSON form:

- `GrpcWay(target)`: gRPC, to a service directly or to the gateway;
- `RestWay(base_url)`: REST/JSON on the RPC's `google.api.http` binding, to a service's own REST adapter or
  to the gateway.

Each answers an `Outcome`: the gRPC code name and the answer, or the google.rpc.Status, as proto3 JSON
dicts, so answers of different ways can be compared."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.descriptor_pool import Default as default_pool
from google.protobuf.message_factory import GetMessageClass
from google.rpc import status_pb2
from grpc_status import rpc_status

from adapters.inbound.rest.transcoding import HTTP_STATUS
from tests.conftest import ServiceProcess, free_port
from tests.gateway.harness import Envoy
from tests.integration.test_member_service import member_env
from tests.openapi import Operation, operations
from tests.operator import operator_keys
from tests.used_secrets import remember

SERVICES = ("customer", "member", "account", "my_accounts")
# Which service serves each public gRPC service.
OWNER = {
    "bank.customer.v1.CustomerService": "customer",
    "bank.member.v1.MemberService": "member",
    "bank.account.v1.AccountService": "account",
    "bank.my_accounts.v1.MyAccountsService": "my_accounts",
}


@dataclass(frozen=True)
class Outcome:
    code: str  # "OK" or the gRPC status code name
    body: dict[str, Any]  # the answer, or the google.rpc.Status (code, message, details)
    http_status: int | None = None  # REST only


def _classes(rpc: str) -> tuple[type, type]:
    for package in ("customer", "member", "account", "my_accounts"):  # registers the services' descriptors
        import_module(f"bank.{package}.v1.{package}_service_pb2")
    service, method = rpc.split("/")
    descriptor = default_pool().FindServiceByName(service).methods_by_name[method]
    return GetMessageClass(descriptor.input_type), GetMessageClass(descriptor.output_type)


def as_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


Token = str | list[str] | None  # a list: one `authorization` entry per token, in that order


def authorization(token: Token) -> list[tuple[str, str]]:
    """The `authorization: Bearer` entries of a call (none for no token)."""
    tokens = [token] if isinstance(token, str) else token or []
    return [("authorization", f"Bearer {t}") for t in tokens if t]


class GrpcWay:
    name = "grpc"

    def __init__(self, targets: dict[str, str], label: str) -> None:
        self._channels = {service: grpc.insecure_channel(target) for service, target in targets.items()}
        self.label = label

    def call(self, rpc: str, request: dict[str, Any], token: Token, timeout: float = 10) -> Outcome:
        request_class, response_class = _classes(rpc)
        service = rpc.split("/")[0]
        call = self._channels[service].unary_unary(
            f"/{rpc}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        message = json_format.ParseDict(request, request_class())
        metadata = authorization(token)
        try:
            return _remember(request, Outcome("OK", as_json(call(message, metadata=metadata, timeout=timeout))))
        except grpc.RpcError as error:
            status = rpc_status.from_call(error) or status_pb2.Status(
                code=error.code().value[0], message=error.details()
            )
            return Outcome(error.code().name, as_json(status))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


class RestWay:
    name = "rest"

    def __init__(self, base_urls: dict[str, str], label: str) -> None:
        self._base_urls = base_urls
        self._client = httpx.Client(timeout=10)
        self._operations: dict[str, Operation] = {op.rpc: op for op in operations()}
        self.label = label

    def call(self, rpc: str, request: dict[str, Any], token: Token, timeout: float = 10) -> Outcome:
        operation = self._operations[rpc]
        fields = dict(request)
        path = re.sub(r"\{([^}]+)\}", lambda m: str(fields.pop(_camel(m.group(1)))), operation.path)
        url = self._base_urls[rpc.split("/")[0]] + path
        headers = authorization(token)
        if operation.method == "GET":
            response = self._client.get(url, params=fields, headers=headers, timeout=timeout)
        else:
            response = self._client.request(operation.method, url, json=fields, headers=headers, timeout=timeout)
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        if response.status_code == 200:
            return _remember(request, Outcome("OK", body, 200))
        code = body.get("code") if isinstance(body, dict) else None
        name = grpc_code_name(code) if isinstance(code, int) else f"HTTP {response.status_code}"
        return Outcome(name, body, response.status_code)

    def close(self) -> None:
        self._client.close()


SECRET_FIELDS = ("password", "currentPassword", "newPassword", "refreshToken", "accessToken")


def _remember(request: dict[str, Any], outcome: Outcome) -> Outcome:
    """Passwords sent and tokens received, for the secret scan after the suite (tests/secret_scan.py)."""
    for document in (request, outcome.body if outcome.code == "OK" else {}):
        remember(*(v for k, v in document.items() if k in SECRET_FIELDS and isinstance(v, str)))
    return outcome


def grpc_code_name(code: int) -> str:
    return next(c.name for c in grpc.StatusCode if c.value[0] == code)


def http_status_of(code_name: str) -> int:
    return HTTP_STATUS[grpc.StatusCode[code_name].value[0]]


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


class FullSystem:
    """customer, member (cheap hashing), account and my_accounts, each with its REST adapter, and Envoy."""

    def __init__(self, service_factory, folder: Path, **member_extra: str) -> None:  # type: ignore[no-untyped-def]
        internal = free_port()
        member = service_factory("member", **member_env(MY_ACCOUNTS_ADDR=f"127.0.0.1:{internal}", **member_extra))
        jwks = member.jwks_url
        self.services: dict[str, ServiceProcess] = {
            "customer": service_factory("customer", MEMBER_JWKS_URL=jwks),
            "member": member,
            "account": service_factory("account", MEMBER_JWKS_URL=jwks),
            "my_accounts": service_factory(
                "my_accounts", MEMBER_JWKS_URL=jwks, MY_ACCOUNTS_INTERNAL_PORT=str(internal)
            ),
        }
        self.var_dir = member.env["VAR_DIR"]
        operator_keys(self.var_dir)  # the operator JWKS the services and the gateway read
        member.start()  # first: the others wait for its JWKS
        for name in ("customer", "account", "my_accounts"):
            self.services[name].start()
        env = {
            **{f"GATEWAY_{n.upper()}_ADDR": s.address for n, s in self.services.items()},
            "GATEWAY_MEMBER_KEYS_ADDR": member.keys_url.removeprefix("http://"),
            # every test client comes from 127.0.0.1: one client's buckets as large as the ceilings for everyone
            "GATEWAY_CLIENT_RPS": "500",
            "GATEWAY_CLIENT_BURST": "1000",
            "GATEWAY_LOGIN_CLIENT_RPS": "50",
            "GATEWAY_LOGIN_CLIENT_BURST": "100",
            "MEMBER_JWKS_FILE": "",  # remote: the gateway fetches the member service's JWKS
            "OPERATOR_JWKS_FILE": str(Path(self.var_dir) / "keys" / "operator" / "jwks.json"),
        }
        folder.mkdir(parents=True, exist_ok=True)
        self.envoy = Envoy(folder, env)
        self.envoy.start()

    def direct_grpc(self) -> GrpcWay:
        return GrpcWay({svc: self.services[owner].address for svc, owner in OWNER.items()}, "gRPC direct")

    def direct_rest(self) -> RestWay:
        return RestWay({svc: self.services[owner].rest_url for svc, owner in OWNER.items()}, "REST direct")

    def gateway_rest(self) -> RestWay:
        return RestWay(dict.fromkeys(OWNER, self.envoy.url), "REST via Envoy")

    def gateway_grpc(self) -> GrpcWay:
        return GrpcWay(dict.fromkeys(OWNER, self.envoy.grpc_target), "gRPC via Envoy")

    def stop(self) -> None:
        self.envoy.stop()


def pretty(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
