"""Generate the gateway's Envoy configuration from the same descriptor set as the stubs (never edited by hand).

python scripts/gen_envoy.py                 # write deploy/envoy/{descriptor.binpb,envoy.yaml} from the defaults
python scripts/gen_envoy.py --check         # fail if the committed files differ from a fresh default render
python scripts/gen_envoy.py --validate      # render with a throwaway operator JWKS, run `envoy --mode validate`
python scripts/gen_envoy.py --out-dir DIR   # render the environment's settings (GATEWAY_*, *_JWKS_FILE) into DIR
python scripts/gen_envoy.py --for-run       # print the config gateway.sh runs (deploy/envoy, or var/run/gateway)

Every RPC of every public service gets a route on its gRPC path (the transcoder rewrites REST calls to that
path and re-routes, so one route serves both) and exactly one JWT rule class on its gRPC path and on each of
its REST bindings. The policy below is the single place to change who may call what (scripts/gen_openapi.py
applies it to the OpenAPI document, deploy/envoy/openapi.json, which Envoy serves at GET /openapi.json). Envoy
also serves the static web page (web/, WEB_FILES) itself, under a strict Content-Security-Policy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from adapters.inbound.grpc.metadata import MAX_TOKEN_LENGTH

# ---------------------------------------------------------------------------------------------------------------
# Policy: the single place to change. Methods are "package.Service/Method"; services are "package.Service".
# ---------------------------------------------------------------------------------------------------------------
PUBLIC_METHODS: tuple[str, ...] = (
    "bank.member.v1.MemberService/Login",
    "bank.member.v1.MemberService/RefreshToken",
)
OPERATOR_SERVICES: tuple[str, ...] = ("bank.customer.v1.CustomerService",)
OPERATOR_METHODS: tuple[str, ...] = (
    "bank.member.v1.MemberService/EnrollMember",
    "bank.member.v1.MemberService/UnlockMember",
)
# Everything else needs a banking member's access token (deny by default).

# Never routed, never transcoded: service-to-service (the login snapshot) and operator-only (ops, view admin).
INTERNAL_SERVICES: tuple[str, ...] = (
    "bank.my_accounts.v1.AccountsSnapshotService",
    "bank.my_accounts.v1.ViewAdminService",
    "bank.ops.v1.OutboxService",
)
# Served by the member service's keys listener, public (a verifier needs the keys before it has a token).
MEMBER_KEYS_PATHS: tuple[str, ...] = ("/.well-known/jwks.json", "/.well-known/openid-configuration")
HEALTH_PATH = "/healthz"  # answered by Envoy itself: the gateway process is up and routing
# Answered by Envoy itself, public: the committed OpenAPI document (scripts/gen_openapi.py writes it).
OPENAPI_PATH = "/openapi.json"
# Answered by Envoy itself, public: the static web page (web/, no build step), each file on one exact GET path.
# Nothing else of web/ is served; a new file needs a line here (and in tests/gateway).
WEB_DIR = "web"
WEB_FILES: dict[str, tuple[str, str]] = {  # path -> (file under web/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app/app.css": ("app.css", "text/css; charset=utf-8"),
    "/app/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
# On every web answer: same-origin everything, no inline script or style, never framed.
WEB_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
WEB_SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": WEB_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# Per-RPC route timeouts (seconds); the rest get DEFAULT_TIMEOUT_S. Login hashes a password (argon2id, queued).
DEFAULT_TIMEOUT_S = 5
TIMEOUTS_S: dict[str, int] = {"bank.member.v1.MemberService/Login": 10}
# RPCs behind the login token bucket (both REST and gRPC reach the same gRPC route, hence the same bucket).
LOGIN_RATE_LIMITED: tuple[str, ...] = ("bank.member.v1.MemberService/Login",)
# Headers only the gateway may set: removed from every client request before jwt_authn runs.
IDENTITY_HEADERS: tuple[str, ...] = (
    "x-customer-id",
    "x-member-id",
    "x-session-id",
    "x-operator",
    "x-jwt-payload",
    "x-forwarded-client-cert",
    "x-envoy-original-path",
)


@dataclass(frozen=True)
class Upstream:
    cluster: str
    default_port: int


# One cluster per public service. A public service missing here stops the generator (nothing is forgotten).
UPSTREAMS: dict[str, Upstream] = {
    "bank.customer.v1.CustomerService": Upstream("customer", 50051),
    "bank.member.v1.MemberService": Upstream("member", 50052),
    "bank.account.v1.AccountService": Upstream("account", 50053),
    "bank.my_accounts.v1.MyAccountsService": Upstream("my_accounts", 50054),
}
MEMBER_KEYS = Upstream("member_keys", 8062)  # the member service's keys listener (no Login there)

MEMBER_ISSUER, MEMBER_AUDIENCE = "bank-member", "bank-api"
OPERATOR_ISSUER, OPERATOR_AUDIENCE = "bank-operator", "bank-ops"
MEMBER_MAX_LIFETIME_S = 900  # access tokens live 300 s by default; 15 min is the policy's ceiling
OPERATOR_MAX_LIFETIME_S = 3600  # operator tokens: 900 s by default, at most 3600 s (operator_tokens.py)
CLOCK_SKEW_S = 5
REALM = "bank"  # the WWW-Authenticate realm of 401/403 answers
# Refused by the gateway itself, before any rate limit, token check or upstream call, the same way every time:
# an `authorization` value longer than "Bearer " + the services' own token limit (adapters/inbound/grpc/metadata.py
# MAX_TOKEN_LENGTH) gets the 401 of any bad token; a REST request line (path and query) longer than any valid
# one gets 400 INVALID_ARGUMENT. Whole header sets over MAX_REQUEST_HEADERS_KB are refused by Envoy's codec,
# below the services' own metadata limit (adapters/inbound/grpc/server.py), so no upstream ever refuses them.
MAX_CREDENTIAL_CHARS = len("Bearer ") + MAX_TOKEN_LENGTH
MAX_REST_PATH_CHARS = 2048
MAX_REQUEST_HEADERS_KB = 16
# gRPC reflection is each service's own (`grpcurl -plaintext 127.0.0.1:50051 list`): the gateway fronts four
# services and has no merged view. Asked for it, it says so (grpcurl prints the message) instead of the 401 of
# a missing token; its descriptor set serves grpcurl through it (`-protoset deploy/envoy/descriptor.binpb`).
REFLECTION_PATHS = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)
REFLECTION_ANSWER = (
    "reflection is served by each service on its own port (customer 50051, member 50052, account 50053, "
    "my_accounts 50054), not by the gateway; through the gateway use grpcurl -protoset deploy/envoy/descriptor.binpb"
)
# A REST body naming a field twice: refused before the transcoder, as the services' REST adapter refuses it.
DUPLICATE_FIELDS_LUA = "deploy/envoy/duplicate_fields.lua"

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GOOGLEAPIS = ROOT / "third_party" / "googleapis"
OUT_DIR = ROOT / "deploy" / "envoy"
OPENAPI_FILE = OUT_DIR / "openapi.json"
# Envoy refuses a direct response body above the route config's limit (default 4 KiB); the document is ~40 KiB.
MAX_DIRECT_RESPONSE_BYTES = 1 << 20
DEFAULT_OPERATOR_JWKS = "var/keys/operator/jwks.json"
# Imported by no contract but needed in the descriptor so grpc-status-details-bin becomes JSON `details`.
EXTRA_PROTOS = ("google/rpc/status.proto", "google/rpc/error_details.proto")
PUBLIC, OPERATOR, MEMBER = "public", "operator", "member"


# ------------------------------------------------------------------------------------------------- descriptor
def build_descriptor(out: Path) -> None:
    """protoc with --include_imports, exactly the inputs of scripts/gen_protos.py plus the google.rpc protos."""
    from grpc_tools import protoc

    well_known = Path(protoc.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{GOOGLEAPIS}",
        f"-I{well_known}",
        "--include_imports",
        f"--descriptor_set_out={out}",
        *files,
        *EXTRA_PROTOS,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")


@dataclass(frozen=True)
class Binding:
    verb: str  # GET, POST, ...
    template: str  # /v1/accounts/{account_number}:deposit


@dataclass(frozen=True)
class Rpc:
    service: str  # bank.member.v1.MemberService
    method: str  # Login
    bindings: tuple[Binding, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}/{self.method}"

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.method}"


def read_services(descriptor: Path) -> dict[str, list[Rpc]]:
    """Every service of the bank contracts in the descriptor, with its RPCs and their google.api.http bindings."""
    from google.api import annotations_pb2
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    services: dict[str, list[Rpc]] = {}
    for file in fds.file:
        if not file.package.startswith("bank."):
            continue
        for service in file.service:
            name = f"{file.package}.{service.name}"
            rpcs = []
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                bindings = [_binding(r) for r in (rule, *rule.additional_bindings) if r.WhichOneof("pattern")]
                rpcs.append(Rpc(name, method.name, tuple(bindings)))
            services[name] = rpcs
    return dict(sorted(services.items()))


def _binding(rule: Any) -> Binding:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return Binding(rule.custom.kind.upper(), rule.custom.path)
    return Binding(kind.upper(), getattr(rule, kind))


def template_regex(template: str) -> str:
    """RE2 regex of the request paths (query excluded, as Envoy matches them) that the transcoder maps to a
    google.api.http template. It mirrors Envoy 1.40's transcoder (checked by tests/gateway): trailing slashes
    are ignored (`/v1/customers/c1/` is GetCustomer); a `:verb` must be spelled with ':' (`/verb` is 404);
    `*` or `{var}` is one segment (written `[^/]*`, a harmless superset), `**` any number of them."""
    path, verb = template, ""
    last = template.rsplit("/", 1)[-1]
    if ":" in last and "}" not in last.rsplit(":", 1)[1]:
        verb = last.rsplit(":", 1)[1]
        path = template[: -len(verb) - 1]
    segments = []
    for segment in _template_segments(path.lstrip("/")):
        if segment.startswith("{"):
            inner = segment[1:-1]
            segments.append(_pattern_regex(inner.split("=", 1)[1] if "=" in inner else "*"))
        else:
            segments.append(_pattern_regex(segment))
    verb_regex = f":{re.escape(verb)}" if verb else ""
    return "^/" + "/".join(segments) + verb_regex + "/*$"


def _template_segments(path: str) -> list[str]:
    """Split on '/' outside {...} (a variable's pattern may hold slashes)."""
    segments, depth, current = [], 0, ""
    for char in path:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "/" and depth == 0:
            segments.append(current)
            current = ""
        else:
            current += char
    return [*segments, current]


def _pattern_regex(pattern: str) -> str:
    return "/".join({"*": "[^/]*", "**": ".*"}.get(part, re.escape(part)) for part in pattern.split("/"))


def auth_class(rpc: Rpc) -> str:
    if rpc.full_name in PUBLIC_METHODS:
        return PUBLIC
    if rpc.service in OPERATOR_SERVICES or rpc.full_name in OPERATOR_METHODS:
        return OPERATOR
    return MEMBER


def public_rpcs(services: Mapping[str, list[Rpc]]) -> list[Rpc]:
    """The RPCs the gateway exposes: every service but the internal ones. Fails on a service without a cluster."""
    unknown = sorted(s for s in services if s not in INTERNAL_SERVICES and s not in UPSTREAMS)
    if unknown:
        sys.exit(f"no upstream for {unknown}: add it to UPSTREAMS (or INTERNAL_SERVICES) in {Path(__file__).name}")
    missing = [m for m in (*PUBLIC_METHODS, *OPERATOR_METHODS) if m.split("/")[0] not in services]
    missing += [s for s in OPERATOR_SERVICES if s not in services]
    if missing:
        sys.exit(f"the policy names what the contracts do not have: {missing}")
    return [rpc for name, rpcs in services.items() if name not in INTERNAL_SERVICES for rpc in rpcs]


# --------------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class EdgeLimits:
    """What one client may take of the gateway (issue 15; figures in deploy/envoy/README.md): its own token
    buckets (keyed by the downstream address Envoy sees, IPv6 by /64), HTTP/2 limits on the client side and the
    overload manager's ceilings."""

    client_rps: int  # every request of one client
    client_burst: int
    login_client_rps: int  # logins of one client
    login_client_burst: int
    tracked_clients: int  # buckets kept per filter (LRU); an evicted client starts again with a full bucket
    client_v6_prefix: int  # one IPv6 client = one /64 (a host picks any address of its /64 at will)
    max_concurrent_streams: int  # HTTP/2 streams open at once on one connection
    stream_window_bytes: int  # HTTP/2 initial stream window: what a client may send ahead on one stream
    connection_window_bytes: int  # ... and on the whole connection
    max_headers_count: int
    max_request_headers_kb: int
    connection_buffer_bytes: int  # per connection read/write buffer before Envoy stops reading (watermark)
    idle_timeout_s: int  # a connection with no stream open is closed after this
    max_connections: int  # downstream connections of the whole process (overload manager)
    max_heap_mb: int  # the heap the overload manager measures against (the pod's memory limit is 256 MiB)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EdgeLimits:
        def get(name: str, default: int) -> int:
            return int(environ.get(name, "") or default)

        return cls(
            client_rps=get("GATEWAY_CLIENT_RPS", 50),
            client_burst=get("GATEWAY_CLIENT_BURST", 100),
            login_client_rps=get("GATEWAY_LOGIN_CLIENT_RPS", 2),
            login_client_burst=get("GATEWAY_LOGIN_CLIENT_BURST", 10),
            tracked_clients=get("GATEWAY_TRACKED_CLIENTS", 10000),
            client_v6_prefix=get("GATEWAY_CLIENT_V6_PREFIX", 64),
            max_concurrent_streams=get("GATEWAY_H2_MAX_STREAMS", 100),
            stream_window_bytes=get("GATEWAY_H2_STREAM_WINDOW", 65536),
            connection_window_bytes=get("GATEWAY_H2_CONNECTION_WINDOW", 1048576),
            max_headers_count=get("GATEWAY_MAX_HEADERS", 100),
            max_request_headers_kb=get("GATEWAY_MAX_HEADERS_KB", MAX_REQUEST_HEADERS_KB),
            connection_buffer_bytes=get(
                "GATEWAY_CONNECTION_BUFFER", 65536
            ),  # the Lua filter buffers a body: up to the transcoder's 64 KiB
            idle_timeout_s=get("GATEWAY_IDLE_TIMEOUT_S", 300),
            max_connections=get("GATEWAY_MAX_CONNECTIONS", 10000),
            max_heap_mb=get("GATEWAY_MAX_HEAP_MB", 200),
        )


@dataclass(frozen=True)
class Settings:
    port: int
    admin_port: int
    addresses: dict[str, list[tuple[str, int]]]  # cluster -> endpoints
    member_jwks_file: str  # "" = remote JWKS from the member service
    operator_jwks_file: str
    login_rps: int  # the login ceiling for everyone together (the last line; per client below)
    login_burst: int
    global_rps: int  # the ceiling for every request of everyone together (the last line; per client below)
    global_burst: int
    health_interval_ms: int  # active health checks of every upstream (NOT_SERVING or gone: no traffic)
    edge: EdgeLimits  # per-client buckets, HTTP/2 limits, overload manager (issue 15)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def get(name: str, default: str) -> str:
            return environ.get(name, "") or default

        addresses = {}
        for upstream in (*UPSTREAMS.values(), MEMBER_KEYS):
            variable = f"GATEWAY_{upstream.cluster.upper()}_ADDR"
            addresses[upstream.cluster] = parse_addresses(get(variable, f"127.0.0.1:{upstream.default_port}"))
        member_jwks = environ.get("MEMBER_JWKS_FILE", "")
        return cls(
            port=int(get("GATEWAY_PORT", "8080")),
            admin_port=int(get("GATEWAY_ADMIN_PORT", "9901")),
            addresses=addresses,
            member_jwks_file=repo_path(member_jwks) if member_jwks else "",
            operator_jwks_file=repo_path(get("OPERATOR_JWKS_FILE", DEFAULT_OPERATOR_JWKS)),
            login_rps=int(get("GATEWAY_LOGIN_RPS", "50")),
            login_burst=int(get("GATEWAY_LOGIN_BURST", "100")),
            global_rps=int(get("GATEWAY_GLOBAL_RPS", "500")),
            global_burst=int(get("GATEWAY_GLOBAL_BURST", "1000")),
            health_interval_ms=int(get("GATEWAY_HEALTH_INTERVAL_MS", "1000")),
            edge=EdgeLimits.from_env(environ),
        )


def parse_addresses(value: str) -> list[tuple[str, int]]:
    """ "host:port[,host:port...]" (IPv6 as [addr]:port) -> endpoints, in the given order."""
    endpoints = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            sys.exit(f"bad address {item!r}: expected host:port")
        endpoints.append((host.strip("[]"), int(port)))
    if not endpoints:
        sys.exit(f"no address in {value!r}")
    return endpoints


def repo_path(value: str) -> str:
    """Paths inside the repository are written relative to its root (Envoy runs from there; the committed file
    is the same on every clone); paths elsewhere are written absolute."""
    path = (ROOT / value).resolve() if not Path(value).is_absolute() else Path(value).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------------------ config
def _any(type_name: str, **fields: Any) -> dict[str, Any]:
    return {"@type": f"type.googleapis.com/{type_name}", **fields}


def _seconds(value: float) -> str:
    return f"{value:g}s"


def token_bucket(rps: int, burst: int) -> dict[str, Any]:
    """Refill every 100 ms when the rate allows whole tokens, else every second."""
    if rps % 10 == 0:
        return {"max_tokens": burst, "tokens_per_fill": rps // 10, "fill_interval": "0.1s"}
    return {"max_tokens": burst, "tokens_per_fill": rps, "fill_interval": "1s"}


def local_rate_limit(stat_prefix: str, rps: int, burst: int) -> dict[str, Any]:
    percent = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return _any(
        "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=stat_prefix,
        token_bucket=token_bucket(rps, burst),
        filter_enabled={"runtime_key": f"{stat_prefix}_enabled", **percent},
        filter_enforced={"runtime_key": f"{stat_prefix}_enforced", **percent},
        # only on the rate-limited answers
        response_headers_to_add=[
            {"append_action": "OVERWRITE_IF_EXISTS_OR_ADD", "header": {"key": "retry-after", "value": "1"}}
        ],
        # gRPC callers get RESOURCE_EXHAUSTED (not UNAVAILABLE, which clients retry at once)
        rate_limited_as_resource_exhausted=True,
    )


def per_client_rate_limit(
    stat_prefix: str, client: tuple[int, int], ceiling: tuple[int, int], edge: EdgeLimits
) -> dict[str, Any]:
    """A local_ratelimit config with one token bucket per client (rps, burst) and, behind it, the ceiling for
    everyone together. The client is the downstream address as Envoy sees it (use_remote_address, no trusted
    hops: the peer of the TCP connection), an IPv6 client by its /64. A request takes a token from its client's
    bucket first; only if that allows it does it take one from the ceiling (always_consume_default_token_bucket),
    so a client that floods spends its own bucket, never the others' share. Dynamic descriptors (an empty value
    matches every address, each with its own bucket) kept in an LRU of `tracked_clients`."""
    config = local_rate_limit(stat_prefix, *ceiling)
    config["descriptors"] = [
        {"entries": [{"key": "masked_remote_address", "value": ""}], "token_bucket": token_bucket(*client)}
    ]
    config["rate_limits"] = [
        {
            "actions": [
                {
                    "masked_remote_address": {
                        "v4_prefix_mask_len": 32,
                        "v6_prefix_mask_len": edge.client_v6_prefix,
                    }
                }
            ]
        }
    ]
    config["max_dynamic_descriptors"] = edge.tracked_clients
    config["always_consume_default_token_bucket"] = True
    return config


def rate_limit_off(stat_prefix: str) -> dict[str, Any]:
    """A per-route local_ratelimit config that turns the filter off on its route (a per-route config needs a
    bucket; it is never consulted). For /healthz: the kubelet's probes must not fail because clients hit a
    ceiling, or a flood would take every gateway pod out of its Service (the overload manager still refuses
    them when the heap is really full)."""
    off = {"default_value": {"numerator": 0, "denominator": "HUNDRED"}}
    return _any(
        "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=stat_prefix,
        token_bucket=token_bucket(1, 1),
        filter_enabled={"runtime_key": f"{stat_prefix}_enabled", **off},
    )


def downstream_protocol_limits(edge: EdgeLimits) -> dict[str, Any]:
    """HCM fields bounding what one client connection can make the gateway hold: HTTP/2 streams and flow-control
    windows, header count and size, idle connections. Envoy keeps its defaults for the HTTP/2 flood checks
    (outbound frames, empty frames, PRIORITY and WINDOW_UPDATE floods)."""
    return {
        "http2_protocol_options": {
            "max_concurrent_streams": edge.max_concurrent_streams,
            "initial_stream_window_size": edge.stream_window_bytes,
            "initial_connection_window_size": edge.connection_window_bytes,
        },
        "max_request_headers_kb": edge.max_request_headers_kb,
        "common_http_protocol_options": {
            "headers_with_underscores_action": "REJECT_REQUEST",
            "idle_timeout": _seconds(edge.idle_timeout_s),
            "max_headers_count": edge.max_headers_count,
        },
    }


def overload_manager(edge: EdgeLimits) -> dict[str, Any]:
    """The process-wide last line: the heap measured against max_heap_mb (tcmalloc's in-use bytes), with
    actions as it fills: reset the streams that hold the most buffered memory (from 85 %), give memory back to
    the system (90 %), stop keep-alive and new connections (95 %), refuse new requests with 503 (98 %); and
    a cap on downstream connections of the whole process (beyond it a new connection is closed at once)."""
    heap = "envoy.resource_monitors.fixed_heap"
    connections = "envoy.resource_monitors.global_downstream_max_connections"

    def action(name: str, threshold: float) -> dict[str, Any]:
        return {
            "name": f"envoy.overload_actions.{name}",
            "triggers": [{"name": heap, "threshold": {"value": threshold}}],
        }

    return {
        "refresh_interval": "0.25s",
        "resource_monitors": [
            {
                "name": heap,
                "typed_config": _any(
                    "envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
                    max_heap_size_bytes=edge.max_heap_mb * 1024 * 1024,
                ),
            },
            {
                "name": connections,
                "typed_config": _any(
                    "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    max_active_downstream_connections=edge.max_connections,
                ),
            },
        ],
        "actions": [
            {
                "name": "envoy.overload_actions.reset_high_memory_stream",
                "triggers": [{"name": heap, "scaled": {"scaling_threshold": 0.85, "saturation_threshold": 0.95}}],
            },
            action("shrink_heap", 0.90),
            action("disable_http_keepalive", 0.95),
            action("stop_accepting_connections", 0.95),
            action("stop_accepting_requests", 0.98),
        ],
        # streams are tracked by the memory they buffer from 1 MiB (2^20) up: what reset_high_memory_stream resets
        "buffer_factory_config": {"minimum_account_to_track_power_of_two": 20},
    }


def rest_rule(binding: Binding) -> dict[str, Any]:
    return {
        "safe_regex": {"regex": template_regex(binding.template)},
        "headers": [{"name": ":method", "string_match": {"exact": binding.verb}}],
    }


def jwt_rules(rpcs: Iterable[Rpc], rest: bool) -> list[dict[str, Any]]:
    """First match wins: the gateway's own public paths, then per class (public, operator, member) each RPC's
    gRPC path and (if rest) its REST bindings, then deny by default (a member token for anything else).
    Operator rules come before member rules, so a path both could match needs the operator token."""
    requires = {
        PUBLIC: {},
        OPERATOR: {"requires": {"provider_name": OPERATOR}},
        MEMBER: {"requires": {"provider_name": MEMBER}},
    }
    own = (*MEMBER_KEYS_PATHS, HEALTH_PATH, OPENAPI_PATH, *WEB_FILES)
    rules: list[dict[str, Any]] = [{"match": {"path": p}} for p in own]
    for cls in (PUBLIC, OPERATOR, MEMBER):
        for rpc in rpcs:
            if auth_class(rpc) != cls:
                continue
            rules.append({"match": {"path": rpc.grpc_path}, **requires[cls]})
            if rest:
                rules.extend({"match": rest_rule(b), **requires[cls]} for b in rpc.bindings)
    rules.append({"match": {"prefix": "/"}, **requires[MEMBER]})
    return rules


def jwt_authn(settings: Settings, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return _any(
        "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers={
            MEMBER: jwt_provider(
                MEMBER_ISSUER,
                MEMBER_AUDIENCE,
                MEMBER_MAX_LIFETIME_S,
                member_jwks(settings),
                {"x-customer-id": "sub", "x-member-id": "member_id", "x-session-id": "sid"},
            ),
            OPERATOR: jwt_provider(
                OPERATOR_ISSUER,
                OPERATOR_AUDIENCE,
                OPERATOR_MAX_LIFETIME_S,
                {"local_jwks": {"filename": settings.operator_jwks_file}},
                {"x-operator": "sub"},
            ),
        },
        rules=rules,
        # every refusal the same: no failure reason in the body or WWW-Authenticate ("Jwt is expired", "Jwks
        # doesn't have key to match kid" would tell a prober which of its forgeries came closest)
        strip_failure_response=True,
    )


def jwt_provider(issuer: str, audience: str, max_lifetime: int, jwks: dict[str, Any], claims: dict[str, str]):
    return {
        "issuer": issuer,
        "audiences": [audience],
        **jwks,
        # only the Authorization header: otherwise Envoy also takes ?access_token= (which ends up in logs)
        "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
        "forward": True,  # the services verify the token themselves
        "clock_skew_seconds": CLOCK_SKEW_S,
        "require_expiration": True,
        "max_lifetime": _seconds(max_lifetime),
        "claim_to_headers": [{"header_name": h, "claim_name": c} for h, c in claims.items()],
        # A verified token is kept (its expiry still checked on every use), as the services keep theirs: each
        # call of a session presents the same token.
        "jwt_cache_config": {"jwt_cache_size": 4096},
    }


def member_jwks(settings: Settings) -> dict[str, Any]:
    if settings.member_jwks_file:
        return {"local_jwks": {"filename": settings.member_jwks_file}}
    host, port = settings.addresses[MEMBER_KEYS.cluster][0]
    return {
        "remote_jwks": {
            "http_uri": {
                "uri": f"http://{_host(host)}:{port}{MEMBER_KEYS_PATHS[0]}",
                "cluster": MEMBER_KEYS.cluster,
                "timeout": "1s",
            },
            "cache_duration": "60s",
            # Fetched in the background: Envoy starts (and answers 401) without the member service, and
            # retries every second until the keys come.
            "async_fetch": {"failed_refetch_duration": "1s"},
        }
    }


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def route_for(rpc: Rpc, cluster: str) -> dict[str, Any]:
    timeout = _seconds(TIMEOUTS_S.get(rpc.full_name, DEFAULT_TIMEOUT_S))
    route: dict[str, Any] = {
        "name": rpc.full_name,
        "match": {"path": rpc.grpc_path},
        "route": {
            "cluster": cluster,
            "timeout": timeout,
            # a gRPC client's shorter deadline (grpc-timeout) wins; a longer one is cut to the route timeout
            "max_stream_duration": {"grpc_timeout_header_max": timeout},
            # Only where the upstream cannot have started the call (no connection, stream refused, reset before
            # the request went out, as when a replica drains): never after, so a non-idempotent call such as a
            # login never runs twice. Another host is tried.
            "retry_policy": {
                "retry_on": "connect-failure,refused-stream,reset-before-request",
                "num_retries": 2,
                "retry_host_predicate": [
                    {
                        "name": "envoy.retry_host_predicates.previous_hosts",
                        "typed_config": _any("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"),
                    }
                ],
                "host_selection_retry_max_attempts": 3,
            },
        },
    }
    if rpc.full_name in LOGIN_RATE_LIMITED:
        route["typed_per_filter_config"] = {"bank.login_ratelimit": {}}  # filled by build_config
    return route


def _camel(field_path: str) -> str:
    """proto3 JSON name of each part of a field path: account_number -> accountNumber."""
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part) for part in field_path.split("."))


def query_override_routes(rpcs: Iterable[Rpc], no_transcoder: dict[str, Any]) -> list[dict[str, Any]]:
    """The transcoder lets a query parameter override a path variable (`/v1/accounts/a1?accountNumber=a2`
    reaches the service as a2 while the path and the access log say a1). These routes answer 400 to such
    requests on their REST path, before transcoding (the transcoder is off on them, so no re-routing)."""
    routes = []
    for rpc in rpcs:
        for binding in rpc.bindings:
            for variable in re.findall(r"\{([^}=]+)", binding.template):
                for name in sorted({variable, _camel(variable)}):
                    routes.append(
                        {
                            "name": f"{rpc.full_name}/query-overrides-{name}",
                            "match": {
                                **rest_rule(binding),
                                "query_parameters": [{"name": name, "present_match": True}],
                            },
                            "direct_response": {
                                "status": 400,
                                "body": {"inline_string": f"{name} is set by the path; it cannot be in the query\n"},
                            },
                            "typed_per_filter_config": no_transcoder,
                        }
                    )
    return routes


def _response_headers(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"append_action": "OVERWRITE_IF_EXISTS_OR_ADD", "header": {"key": key, "value": value}}
        for key, value in headers.items()
    ]


def longer_than(chars: int) -> str:
    """An RE2 pattern for a value of more than `chars` characters (RE2 caps one counted repetition at 1000)."""
    thousands, rest = divmod(chars + 1, 1000)
    return "^" + ".{1000}" * thousands + (f".{{{rest},}}" if rest else ".*") + "$"


def refusal_routes(no_filters: dict[str, Any]) -> list[dict[str, Any]]:
    """First in the table: inputs refused on their size alone, before any filter runs (no rate limit spent)."""
    status = json.dumps({"code": 3, "message": "request: the path is too long", "details": []})
    return [
        {
            "name": "oversized_credential",
            "match": {
                "prefix": "/",
                "headers": [
                    {
                        "name": "authorization",
                        "string_match": {"safe_regex": {"regex": longer_than(MAX_CREDENTIAL_CHARS)}},
                    }
                ],
            },
            # jwt_authn's own refusal: 401, no body (gRPC callers get UNAUTHENTICATED from the 401)
            "direct_response": {"status": 401},
            "typed_per_filter_config": no_filters,
        },
        {
            "name": "oversized_path",
            "match": {
                "prefix": "/",
                "headers": [
                    {"name": ":path", "string_match": {"safe_regex": {"regex": longer_than(MAX_REST_PATH_CHARS)}}},
                    # a gRPC call's path names a method: an unknown one (any long one) is the not_found route's
                    {
                        "name": "content-type",
                        "string_match": {"prefix": "application/grpc"},
                        "invert_match": True,
                        "treat_missing_header_as_empty": True,
                    },
                ],
            },
            "direct_response": {"status": 400, "body": {"inline_string": status}},
            "response_headers_to_add": _response_headers({"content-type": "application/json"}),
            "typed_per_filter_config": no_filters,
        },
        *(
            {
                "name": f"reflection{n}",
                "match": {"path": path},
                # 403 is PERMISSION_DENIED to a gRPC caller, the body its grpc-message (grpcurl prints both; an
                # UNIMPLEMENTED it would replace by "server does not support the reflection API")
                "direct_response": {"status": 403, "body": {"inline_string": REFLECTION_ANSWER}},
                "typed_per_filter_config": no_filters,
            }
            for n, path in enumerate(REFLECTION_PATHS)
        ),
    ]


def duplicate_fields_filter() -> dict[str, Any]:
    """The Lua filter of DUPLICATE_FIELDS_LUA, inlined, answering with the REST adapter's own refusal."""
    from adapters.inbound.rest.transcoding import duplicate_field_answer

    status, body = duplicate_field_answer()
    source = (ROOT / DUPLICATE_FIELDS_LUA).read_text(encoding="utf-8")
    source = source.replace("@STATUS@", str(status)).replace("@BODY@", body)
    return {
        "name": "bank.duplicate_fields",
        "typed_config": _any("envoy.extensions.filters.http.lua.v3.Lua", default_source_code={"inline_string": source}),
    }


def web_routes(no_transcoder: dict[str, Any]) -> list[dict[str, Any]]:
    """GET of each file of the web page, answered by Envoy from the file (read when the config loads, relative to
    the repository root), with its content type and the security headers; the HTML is never cached."""
    routes = []
    for path, (name, content_type) in WEB_FILES.items():
        headers = {"content-type": content_type, **WEB_SECURITY_HEADERS}
        headers["cache-control"] = "no-store" if content_type.startswith("text/html") else "no-cache"
        routes.append(
            {
                "name": f"web{path}",
                "match": {"path": path, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
                "direct_response": {"status": 200, "body": {"filename": repo_path(str(ROOT / WEB_DIR / name))}},
                "response_headers_to_add": _response_headers(headers),
                "typed_per_filter_config": no_transcoder,
            }
        )
    return routes


def build_config(services: Mapping[str, list[Rpc]], settings: Settings, descriptor: str) -> dict[str, Any]:
    rpcs = public_rpcs(services)
    exposed = sorted({rpc.service for rpc in rpcs})
    edge = settings.edge
    login_limit = per_client_rate_limit(
        "login_rl",
        (edge.login_client_rps, edge.login_client_burst),
        (settings.login_rps, settings.login_burst),
        edge,
    )
    no_transcoder = {
        "envoy.filters.http.grpc_json_transcoder": _any("envoy.config.route.v3.FilterConfig", disabled=True)
    }
    no_filters = {
        name: _any("envoy.config.route.v3.FilterConfig", disabled=True)
        for name in (
            "bank.global_ratelimit",
            "envoy.filters.http.jwt_authn",
            "bank.duplicate_fields",
            *no_transcoder,
            "bank.jwt_authn_rpc",
        )
    }
    routes: list[dict[str, Any]] = refusal_routes(no_filters)
    routes += [
        {
            "name": f"member_keys{path}",
            "match": {"path": path, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
            "route": {"cluster": MEMBER_KEYS.cluster, "timeout": "2s"},
            "typed_per_filter_config": no_transcoder,
        }
        for path in MEMBER_KEYS_PATHS
    ]
    routes.append(
        {
            "name": "healthz",
            "match": {"path": HEALTH_PATH},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}},
            "typed_per_filter_config": {**no_transcoder, "bank.global_ratelimit": rate_limit_off("healthz_rl")},
        }
    )
    routes.append(
        {
            "name": "openapi",
            "match": {"path": OPENAPI_PATH, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
            # read once when Envoy loads the config (relative to the repository root, like the descriptor)
            "direct_response": {"status": 200, "body": {"filename": repo_path(str(OPENAPI_FILE))}},
            "response_headers_to_add": [
                {
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    "header": {"key": "content-type", "value": "application/json"},
                }
            ],
            "typed_per_filter_config": no_transcoder,
        }
    )
    routes.extend(web_routes(no_transcoder))
    routes.extend(query_override_routes(rpcs, no_transcoder))
    for rpc in rpcs:
        route = route_for(rpc, UPSTREAMS[rpc.service].cluster)
        if "typed_per_filter_config" in route:
            route["typed_per_filter_config"] = {"bank.login_ratelimit": login_limit}
        routes.append(route)
    routes.append(
        {
            "name": "not_found",
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "not found\n"}},
        }
    )

    strip = [{"remove": h} for h in IDENTITY_HEADERS]
    http_filters = [
        {
            # first: nobody can send the identity headers the gateway derives from a verified token (and, on
            # the way out, last: every answer passes it, local replies of the filters after it included)
            "name": "envoy.filters.http.header_mutation",
            "typed_config": _any(
                "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
                mutations={"request_mutations": strip},
            ),
        },
        {
            "name": "bank.global_ratelimit",
            "typed_config": per_client_rate_limit(
                "global_rl", (edge.client_rps, edge.client_burst), (settings.global_rps, settings.global_burst), edge
            ),
        },
        {
            # REST and gRPC paths: refuses before any body is read or transcoded
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": jwt_authn(settings, jwt_rules(rpcs, rest=True)),
        },
        duplicate_fields_filter(),
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": _any(
                "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                proto_descriptor=descriptor,
                services=exposed,
                convert_grpc_status=True,
                ignore_unknown_query_parameters=False,
                request_validation_options={
                    "reject_unknown_method": True,
                    "reject_unknown_query_parameters": True,
                    "reject_binding_body_field_collisions": True,
                },
                # proto3 JSON mapping: lowerCamelCase names, defaults printed, int64 as strings
                print_options={
                    "add_whitespace": False,
                    "always_print_primitive_fields": True,
                    "always_print_enums_as_ints": False,
                    "preserve_proto_field_names": False,
                },
                max_request_body_size=65536,
                max_response_body_size=4194304,
            ),
        },
        {
            # Again after the transcoder, on the gRPC path it chose: the decision is then about the RPC itself,
            # whatever REST path spelling the transcoder accepted (a REST rule that misses one cannot open an
            # operator RPC to a member token).
            "name": "bank.jwt_authn_rpc",
            "typed_config": jwt_authn(settings, jwt_rules(rpcs, rest=False)),
        },
        {
            # after the transcoder: REST and gRPC logins both sit on the Login gRPC route, whose per-route
            # token bucket this is; other routes have none (only the global bucket applies to them)
            "name": "bank.login_ratelimit",
            "typed_config": _any(
                "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit", stat_prefix="login_rl_filter"
            ),
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": _any("envoy.extensions.filters.http.router.v3.Router"),
        },
    ]

    access_log_format = {
        "time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        # never the query string (it may carry secrets) nor any Authorization header
        "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "rpc": "%REQ_WITHOUT_QUERY(:PATH)%",
        "protocol": "%PROTOCOL%",
        "status": "%RESPONSE_CODE%",
        "grpc_status": "%GRPC_STATUS%",
        "flags": "%RESPONSE_FLAGS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "duration_ms": "%DURATION%",
        "upstream_cluster": "%UPSTREAM_CLUSTER%",
        "upstream_host": "%UPSTREAM_HOST%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
        "bytes_in": "%BYTES_RECEIVED%",
        "bytes_out": "%BYTES_SENT%",
    }
    hcm = _any(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="gateway",
        codec_type="AUTO",  # HTTP/1.1 (REST) and h2c (native gRPC) on one port
        use_remote_address=True,
        normalize_path=True,
        merge_slashes=True,
        path_with_escaped_slashes_action="REJECT_REQUEST",
        always_set_request_id_in_response=True,  # x-request-id: what a caller quotes, what the access log has
        # jwt_authn refuses without a reason (strip_failure_response); every refusal of a credential the gateway
        # answers itself says how to authenticate (RFC 6750), the same way: one realm, nothing of the request
        local_reply_config={
            "mappers": [
                {
                    "filter": {
                        "status_code_filter": {
                            "comparison": {
                                "op": "EQ",
                                "value": {"default_value": status, "runtime_key": f"bank.local_reply_{status}"},
                            }
                        }
                    },
                    "headers_to_add": _response_headers({"www-authenticate": f'Bearer realm="{REALM}"'}),
                }
                for status in (401, 403)
            ]
        },
        request_headers_timeout="10s",
        stream_idle_timeout="60s",
        **downstream_protocol_limits(edge),
        access_log=[
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": _any(
                    "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    log_format={
                        "json_format": access_log_format,
                        # %REQ_WITHOUT_QUERY% is an extension: enabled here, unknown otherwise
                        "formatters": [
                            {
                                "name": "envoy.formatter.req_without_query",
                                "typed_config": _any("envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery"),
                            }
                        ],
                    },
                ),
            }
        ],
        route_config={
            "name": "bank",
            "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BYTES,
            "virtual_hosts": [{"name": "bank", "domains": ["*"], "routes": routes}],
        },
        http_filters=http_filters,
    )

    interval = settings.health_interval_ms
    grpc_clusters = sorted({u.cluster for u in UPSTREAMS.values()})
    clusters = [grpc_cluster(c, settings.addresses[c], interval) for c in grpc_clusters]
    clusters.append(rest_cluster(MEMBER_KEYS.cluster, settings.addresses[MEMBER_KEYS.cluster], interval))
    return {
        "admin": {"address": _socket("127.0.0.1", settings.admin_port)},
        # The size-refusal patterns count characters in blocks of 1,000 (RE2's repetition cap), which makes
        # programs of ~8,000 instructions: allowed here, linear in the header's length as every RE2 match.
        "layered_runtime": {
            "layers": [
                {
                    "name": "static",
                    "static_layer": {
                        "re2.max_program_size.error_level": 20000,
                        "re2.max_program_size.warn_level": 20000,
                    },
                }
            ]
        },
        "overload_manager": overload_manager(edge),
        "static_resources": {
            "listeners": [
                {
                    "name": "gateway",
                    "address": _socket("127.0.0.1", settings.port),
                    "per_connection_buffer_limit_bytes": edge.connection_buffer_bytes,
                    "filter_chains": [
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
                    ],
                }
            ],
            "clusters": clusters,
        },
    }


def _socket(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _endpoints(name: str, endpoints: list[tuple[str, int]]) -> dict[str, Any]:
    static = all(_is_ip(h) for h, _ in endpoints)
    return {
        "type": "STATIC" if static else "STRICT_DNS",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket(h, p)}} for h, p in endpoints]}],
        },
    }


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def health_checks(interval_ms: int, check: dict[str, Any]) -> list[dict[str, Any]]:
    """One failed check takes a host out (a replica turns NOT_SERVING first thing on SIGTERM and keeps serving
    for its drain delay, which must be longer than this interval); one good check brings it back."""
    return [
        {
            "timeout": _seconds(min(1.0, interval_ms / 1000)),
            "interval": _seconds(interval_ms / 1000),
            # Envoy checks at no_traffic_interval (60 s by default) while a cluster opens no new connection, which
            # long-lived HTTP/2 connections make the normal case: a draining replica would keep its traffic and a
            # new one get none for up to a minute. The same interval always.
            "no_traffic_interval": _seconds(interval_ms / 1000),
            "no_traffic_healthy_interval": _seconds(interval_ms / 1000),
            "unhealthy_threshold": 1,
            "healthy_threshold": 1,
            **check,
        }
    ]


def grpc_cluster(name: str, endpoints: list[tuple[str, int]], health_interval_ms: int) -> dict[str, Any]:
    return {
        "name": name,
        **_endpoints(name, endpoints),
        # the standard grpc.health.v1 check of the whole server ("")
        "health_checks": health_checks(health_interval_ms, {"grpc_health_check": {}}),
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _any(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                explicit_http_config={"http2_protocol_options": {}},
            )
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 1024,
                    "max_pending_requests": 1024,
                    "max_requests": 1024,
                    # L4: retries in flight at most 10 % of the requests in flight (3 when few are): an upstream
                    # failing everything cannot turn the gateway's retries into a storm
                    "retry_budget": {"budget_percent": {"value": 10.0}, "min_retry_concurrency": 3},
                }
            ]
        },
        "outlier_detection": {
            # gRPC answers count by their HTTP equivalent: UNAVAILABLE/INTERNAL/UNKNOWN are 5xx
            "consecutive_5xx": 5,
            "consecutive_gateway_failure": 3,
            "enforcing_consecutive_gateway_failure": 100,
            "interval": "5s",
            "base_ejection_time": "15s",
            "max_ejection_percent": 50,
        },
    }


def rest_cluster(name: str, endpoints: list[tuple[str, int]], health_interval_ms: int) -> dict[str, Any]:
    return {
        "name": name,
        **_endpoints(name, endpoints),
        "health_checks": health_checks(health_interval_ms, {"http_health_check": {"path": MEMBER_KEYS_PATHS[0]}}),
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 64,
                    "max_pending_requests": 64,
                    "max_requests": 256,
                    "retry_budget": {"budget_percent": {"value": 10.0}, "min_retry_concurrency": 3},  # L4, as above
                }
            ]
        },
    }


# -------------------------------------------------------------------------------------------------------- YAML
_PLAIN = re.compile(r"[A-Za-z_./@][A-Za-z0-9_./@-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not text.startswith("@"):
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML in insertion order: deterministic and diff-friendly, no third-party dependency."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_scalar(key)}:"
            if isinstance(item, dict | list) and item:
                lines.append(head)
                lines.append(to_yaml(item, indent + (2 if isinstance(item, dict) else 0)))
            else:
                lines.append(f"{head} {_empty(item) if isinstance(item, dict | list) else _scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body[indent + 2 :]}")
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                lines.append(to_yaml(item, indent + 2))
            else:
                lines.append(f"{pad}- {_empty(item) if isinstance(item, dict | list) else _scalar(item)}")
    return "\n".join(lines)


def _empty(value: dict | list) -> str:
    return "{}" if isinstance(value, dict) else "[]"


HEADER = """\
# GENERATED by scripts/gen_envoy.py from the contracts' descriptor set: do not edit; regenerate.
# Run from the repository root (relative paths): scripts/gateway.sh start. See deploy/envoy/README.md.
"""


def render(settings: Settings, out_dir: Path, descriptor_ref: Path | None = None) -> str:
    """Write the descriptor into out_dir and return the YAML text that goes beside it. descriptor_ref is the
    descriptor path written into the YAML (default: the one just written)."""
    descriptor = out_dir / "descriptor.binpb"
    build_descriptor(descriptor)
    ref = repo_path(str(descriptor_ref or descriptor))
    return HEADER + to_yaml(build_config(read_services(descriptor), settings, ref)) + "\n"


def write(settings: Settings, out_dir: Path) -> Path:
    text = render(settings, out_dir)
    target = out_dir / "envoy.yaml"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def envoy_binary() -> str:
    local = Path(sys.executable).parent / "envoy"
    return str(local) if local.exists() else (shutil.which("envoy") or "envoy")


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def throwaway_jwks(path: Path) -> None:
    """A JWKS with one fresh public key: only for validating a rendered config, never for serving."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "validate", "alg": "ES256", "use": "sig"}]}))


def check() -> list[str]:
    """Render with the defaults only (no environment) into a temp dir and compare with the committed files."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        text = render(Settings.from_env({}), fresh, descriptor_ref=OUT_DIR / "descriptor.binpb")
        expected = {"envoy.yaml": text.encode(), "descriptor.binpb": (fresh / "descriptor.binpb").read_bytes()}
        for name, content in expected.items():
            committed = OUT_DIR / name
            if not committed.exists() or committed.read_bytes() != content:
                problems.append(f"deploy/envoy/{name} is stale; run `python scripts/gen_envoy.py` and commit")
    return problems


def validate_fresh() -> str:
    """Render with the environment but a throwaway operator JWKS into a temp dir; envoy --mode validate."""
    with tempfile.TemporaryDirectory() as tmp:
        jwks = Path(tmp) / "operator-jwks.json"
        throwaway_jwks(jwks)
        settings = Settings.from_env({**os.environ, "OPERATOR_JWKS_FILE": str(jwks)})
        config = write(settings, Path(tmp))
        result = validate(config)
        if result.returncode != 0:
            sys.exit(f"envoy --mode validate failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "OK"


def config_for_run() -> Path:
    """The config `scripts/gateway.sh start` runs: deploy/envoy/envoy.yaml (re-rendered if stale) when the
    environment overrides nothing, else a render of the environment under $GATEWAY_RENDER_DIR (gateway.sh
    sets it to <var>/run/gateway/; default var/run/gateway/)."""
    settings = Settings.from_env(os.environ)
    for jwks in (settings.operator_jwks_file, settings.member_jwks_file):
        if jwks and not (ROOT / jwks).is_file():
            sys.exit(
                f"{jwks} does not exist: create the operator keys first (their jwks.json is written beside them)"
                " or point OPERATOR_JWKS_FILE (MEMBER_JWKS_FILE) at the deployed JWKS"
            )
    if settings == Settings.from_env({}):
        if check():
            write(settings, OUT_DIR)
        return OUT_DIR / "envoy.yaml"
    out_dir = Path(os.environ.get("GATEWAY_RENDER_DIR") or ROOT / "var" / "run" / "gateway")
    out_dir.mkdir(parents=True, exist_ok=True)
    return write(settings, out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if deploy/envoy differs from a fresh render")
    parser.add_argument("--validate", action="store_true", help="envoy --mode validate a fresh render")
    parser.add_argument("--out-dir", type=Path, default=None, help="render the environment's settings here")
    parser.add_argument("--for-run", action="store_true", help="print the config path gateway.sh should run")
    args = parser.parse_args()
    if args.check or args.validate:
        if args.check and (problems := check()):
            sys.exit("\n".join(problems))
        if args.validate:
            print(f"envoy --mode validate: {validate_fresh()}")
        return
    if args.for_run:
        print(repo_path(str(config_for_run())))
    elif args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        print(write(Settings.from_env(os.environ), args.out_dir.resolve()))
    else:
        # The committed render: the defaults only, whatever the environment says (CI compares with it).
        print(write(Settings.from_env({}), OUT_DIR))


if __name__ == "__main__":
    main()
