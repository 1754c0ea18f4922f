"""Test doubles for the gateway suites: ES256 token signers with their JWKS, a grpc.aio stub upstream that
answers every RPC and records what reached it, a tiny REST stub for the member service's keys, and the real
Envoy started from a config the generator renders (`scripts/gen_envoy.py --out-dir`)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from jwt.algorithms import ECAlgorithm

from adapters.inbound.grpc.server import ServerOptions
from bank.member.v1 import member_pb2, member_service_pb2
from bank.my_accounts.v1 import my_accounts_pb2, my_accounts_service_pb2
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ENVOY = ROOT / ".venv" / "bin" / "envoy"

LOGIN = "/bank.member.v1.MemberService/Login"
REFRESH = "/bank.member.v1.MemberService/RefreshToken"
LIST_MY_ACCOUNTS = "/bank.my_accounts.v1.MyAccountsService/ListMyAccounts"
SNAPSHOT = "/bank.my_accounts.v1.AccountsSnapshotService/GetAccountsSnapshot"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
STUB_ACCESS_TOKEN = "stub-access-token"
BAD_REFRESH_TOKEN = "bad-refresh-token"


def load_gen_envoy() -> ModuleType:
    """scripts/gen_envoy.py as a module (scripts/ is not a package)."""
    if "gen_envoy" in sys.modules:
        return sys.modules["gen_envoy"]
    spec = importlib.util.spec_from_file_location("gen_envoy", ROOT / "scripts" / "gen_envoy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_envoy"] = module
    spec.loader.exec_module(module)
    return module


def clean_environ() -> dict[str, str]:
    """os.environ without the generator's settings: a test's render depends on the test alone."""
    own = ("MEMBER_JWKS_FILE", "OPERATOR_JWKS_FILE")
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k not in own}


# ------------------------------------------------------------------------------------------------------ tokens
@dataclass
class Signer:
    """An ES256 key with its JWKS, issuing tokens with the given defaults (override or drop claims per call)."""

    issuer: str
    audience: str
    claims: dict[str, Any] = field(default_factory=dict)
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def payload(self, lifetime: int = 300, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            **self.claims,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}  # None drops a claim

    def token(self, lifetime: int = 300, headers: Mapping[str, Any] | None = None, **overrides: Any) -> str:
        return jwt.encode(
            self.payload(lifetime, **overrides),
            self.key,
            algorithm="ES256",
            headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})},
        )


def member_signer() -> Signer:
    return Signer("bank-member", "bank-api", {"sub": "cust-1", "member_id": "mem-1", "sid": "sess-1"})


def operator_signer() -> Signer:
    return Signer("bank-operator", "bank-ops", {"sub": "ops.alice", "scope": "bank.operator"})


# ---------------------------------------------------------------------------------------------- stub upstream
@dataclass(frozen=True)
class Call:
    method: str
    metadata: tuple[tuple[str, str], ...]
    request: bytes

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.metadata if k == key]


class StubUpstream:
    """One grpc.aio server playing every backend: fixed answers for Login, ListMyAccounts and a failing
    RefreshToken, an empty message for any other RPC (valid for every response type). Runs on its own loop
    in a thread, so tests stay synchronous."""

    def __init__(self) -> None:
        self.port = free_port()
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def calls(self, method: str | None = None) -> list[Call]:
        """The calls of `method`, or of every method but Envoy's own health checks (which come on a timer)."""
        with self._lock:
            return [c for c in self._calls if c.method == method or (method is None and c.method != HEALTH_CHECK)]

    def count(self, method: str | None = None) -> int:
        return len(self.calls(method))

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        # the services' own metadata limit (adapters/inbound/grpc/server.py), not gRPC's random 8-16 KiB band
        limit = ServerOptions().max_metadata_bytes
        self._server = grpc.aio.server(
            options=[("grpc.max_metadata_size", limit), ("grpc.absolute_max_metadata_size", limit)]
        )
        self._server.add_generic_rpc_handlers((_Handler(self),))
        self._server.add_insecure_port(self.address)
        await self._server.start()

    def record(self, method: str, metadata: Any, request: bytes) -> None:
        with self._lock:
            self._calls.append(Call(method, tuple((m.key, str(m.value)) for m in metadata or ()), request))


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, stub: StubUpstream) -> None:
        self._stub = stub

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        stub = self._stub

        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            stub.record(method, context.invocation_metadata(), request)
            return await _answer(method, request, context)

        return grpc.unary_unary_rpc_method_handler(unary)


async def _answer(method: str, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if method == LOGIN:
        return member_service_pb2.LoginResponse(
            access_token=STUB_ACCESS_TOKEN,
            token_type="Bearer",
            expires_in=300,
            accounts_state=member_pb2.ACCOUNTS_SNAPSHOT_STATE_FRESH,
        ).SerializeToString()
    if method == LIST_MY_ACCOUNTS:
        account = my_accounts_pb2.MyAccount(account_number="110-1", product_code="SAVINGS", balance=1500, sequence=3)
        return my_accounts_service_pb2.ListMyAccountsResponse(accounts=[account]).SerializeToString()
    if method == REFRESH and member_service_pb2.RefreshTokenRequest.FromString(request).refresh_token == (
        BAD_REFRESH_TOKEN
    ):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="refresh_token", description="malformed")
                ]
            )
        )
        status = status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad request")
        status.details.append(detail)
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad request",
            (("grpc-status-details-bin", status.SerializeToString()),),
        )
    return b""


class JwksRestStub:
    """The member service's REST port, as far as the gateway's public /.well-known routes go."""

    def __init__(self, jwks: dict[str, Any], port: int = 0) -> None:
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a peer resetting its connection is not the test's business

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------------- Envoy
@dataclass
class Envoy:
    """The real Envoy on free ports with a random --base-id, from a config rendered into `folder`."""

    folder: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    base_id: int = field(default_factory=lambda: random.randint(10_000, 2_000_000))
    process: subprocess.Popen | None = None
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "envoy.log"

    @property
    def full_env(self) -> dict[str, str]:
        return {**self.env, "GATEWAY_PORT": str(self.port), "GATEWAY_ADMIN_PORT": str(self.admin_port)}

    def render(self) -> Path:
        """Through the generator's command line, as an operator would."""
        env = {**clean_environ(), **self.full_env}
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "gen_envoy.py"), "--out-dir", str(self.folder)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        return self.folder / "envoy.yaml"

    def start(self, timeout: float = 20.0, config: Path | None = None) -> None:
        """Render (unless given a config) and start; return once the admin /ready answers LIVE."""
        config = config or self.render()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        began = time.monotonic()
        self.process = subprocess.Popen(
            [
                str(ENVOY),
                "-c",
                str(config),
                "--base-id",
                str(self.base_id),
                "--concurrency",
                "1",
                "--file-flush-interval-msec",
                "50",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.process.returncode}:\n{self.logs()[-3000:]}")
            try:
                ready = httpx.get(f"http://127.0.0.1:{self.admin_port}/ready", timeout=0.5)
                if ready.status_code == 200 and ready.text.strip() == "LIVE":
                    self.start_seconds = time.monotonic() - began
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"envoy not ready after {timeout}s:\n{self.logs()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def access_log(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                entries.append(json.loads(line))
        return entries

    def admin(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5)
