"""Verifying access tokens with the member service's published keys, fetched over HTTP and kept fresh.

Keys are fetched at start-up (the service stays NOT_SERVING until it has them), refreshed every
`refresh_seconds`, and refreshed early, at most once per `min_refresh_seconds`, when a token names a key
we do not have (a rotation). Verification itself never does I/O: a token with an unknown key is refused
now and accepted once the refresh has brought the key."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from datetime import datetime
from typing import Any

import jwt

from adapters.common.intervals import Every
from adapters.outbound.security.jwt_verifier import JwksTokenVerifier
from domain.shared.errors import InvalidToken
from domain.shared.tokens import AccessClaims

log = logging.getLogger(__name__)


def fetch_jwks(url: str, timeout: float = 2.0) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError("the JWKS URL must be http(s)")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        return json.loads(response.read(1_000_000))


class RemoteJwksVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        refresh_seconds: float = 60.0,
        min_refresh_seconds: float = 5.0,
    ) -> None:
        self._url = jwks_url
        self._issuer, self._audience = issuer, audience
        self._refresh_seconds = refresh_seconds
        self._verifier: JwksTokenVerifier | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched = Every(min_refresh_seconds)  # at most one fetch per min_refresh_seconds
        self._wanted = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self._verifier is not None

    async def load(self) -> None:
        """Fetch the keys once (raises if the member service cannot be reached)."""
        jwks = await asyncio.to_thread(fetch_jwks, self._url)
        if jwks != self._jwks:  # the same keys keep their verifier, and with it the tokens it has checked
            self._verifier = JwksTokenVerifier(jwks, issuer=self._issuer, audience=self._audience)
            self._jwks = jwks
        self._fetched.mark()

    def verify(self, token: str, now: datetime) -> AccessClaims:
        if self._verifier is None:
            raise InvalidToken()
        try:
            return self._verifier.verify(token, now)
        except InvalidToken:
            if self._names_unknown_key(token):
                self._wanted.set()  # perhaps a rotation: refresh soon, in the background
            raise

    def _names_unknown_key(self, token: str) -> bool:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and self._verifier is not None and kid not in self._verifier.kids

    async def run(self, stop: asyncio.Event) -> None:
        """Background refresh: on schedule, or early when an unknown key was seen (rate-limited)."""
        while not stop.is_set():
            waiters = [asyncio.ensure_future(self._wanted.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=self._refresh_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if stop.is_set():
                return
            pause = self._fetched.wait()
            if pause > 0:
                await asyncio.sleep(pause)
            self._wanted.clear()
            try:
                await self.load()
            except Exception as exc:  # noqa: BLE001 - keep the keys we have; try again next time
                log.warning("JWKS refresh failed (%s); keeping the current keys", type(exc).__name__)
