"""Runs a Starlette app on uvicorn inside the service's own event loop, beside the gRPC server. The
service owns the signals: uvicorn's own handlers are disabled and it stops when the service's stop event
is set, after the gRPC server has turned NOT_SERVING."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


async def _no_route(_request: Request, exc: Exception) -> JSONResponse:
    # a google.rpc.Status body like every other refusal: 404 NOT_FOUND, 405 UNIMPLEMENTED
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    code, message = (12, "method not allowed") if status == 405 else (5, "no such route")
    return JSONResponse({"code": code, "message": message, "details": []}, status)


def rest_app(routes: list[BaseRoute]) -> Starlette:
    """A service's REST application: its routes, and JSON refusals for the paths it does not have."""
    return Starlette(routes=routes, exception_handlers={404: _no_route, 405: _no_route})


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the service's stop_signal() handles SIGTERM/SIGINT


class RestServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, server_header=False, lifespan="off"
        )
        self._server = _EmbeddedServer(config)
        self.address = f"{host}:{port}"

    async def run(self, stop: asyncio.Event) -> None:
        serving = asyncio.create_task(self._server.serve())
        log.info("REST listening on %s", self.address)
        await stop.wait()
        self._server.should_exit = True
        await serving
