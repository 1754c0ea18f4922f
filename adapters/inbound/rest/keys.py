"""The member service's public keys over HTTP: a JWKS and an OpenID-style discovery document, so Envoy's
jwt_authn (or any OAuth-aware gateway) and the my_accounts service can verify access tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def key_routes(jwks: Callable[[], dict[str, Any]], discovery: dict[str, Any]) -> list[Route]:
    async def get_jwks(_request: Request) -> JSONResponse:
        # Short cache: verifiers refresh within a minute after a key rotation.
        return JSONResponse(jwks(), headers={"cache-control": "public, max-age=60"})

    async def get_discovery(_request: Request) -> JSONResponse:
        return JSONResponse(discovery, headers={"cache-control": "public, max-age=300"})

    return [Route(JWKS_PATH, get_jwks, methods=["GET"]), Route(DISCOVERY_PATH, get_discovery, methods=["GET"])]
