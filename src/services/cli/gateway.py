"""The Envoy gateway, through scripts/gateway.sh (start waits until ready and is idempotent; status exits 0
when running, 3 when stopped). The CLI passes its var directory, ports and service addresses explicitly, so
the gateway's PID file, log, operator JWKS and upstreams are those of the services it started."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from services.cli.console import CliError
from services.cli.paths import Paths, env
from services.runtime.settings import DEFAULT_MEMBER_KEYS_PORT

SCRIPT = "scripts/gateway.sh"
NAME = "gateway"
TIMEOUT = 60.0


def port(variable: str, default: str) -> int:
    raw = env(variable, default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise CliError(f"{variable}={raw!r} is not a TCP port number")
    return int(raw)


def address() -> str:
    return f"127.0.0.1:{port('GATEWAY_PORT', '8080')}"


def base_env(paths: Paths) -> dict[str, str]:
    from services.runtime.operators import operator_keys_dir  # imported here: only the gateway needs it

    return {
        **os.environ,
        "GATEWAY_VAR_DIR": str(paths.var),
        "GATEWAY_PORT": str(port("GATEWAY_PORT", "8080")),
        "GATEWAY_ADMIN_PORT": str(port("GATEWAY_ADMIN_PORT", "9901")),
        "OPERATOR_JWKS_FILE": env("OPERATOR_JWKS_FILE", str(operator_keys_dir(paths.var) / "jwks.json")),
    }


def _run(paths: Paths, action: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - our own script, fixed arguments, no shell
            ["bash", str(paths.root / SCRIPT), action],  # noqa: S607 - bash from PATH, as the scripts need
            cwd=paths.root,
            env={**base_env(paths), **(extra or {})},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CliError(f"{SCRIPT} {action} did not finish in {TIMEOUT:.0f} s") from None


def start(paths: Paths, upstreams: dict[str, str]) -> str:
    """Start Envoy in front of `upstreams` (service name -> gRPC address); its address."""
    extra = {f"GATEWAY_{name.upper()}_ADDR": addr for name, addr in upstreams.items()}
    # The member service's keys listener serves the JWKS the gateway verifies member tokens with.
    keys = f"127.0.0.1:{env('MEMBER_KEYS_PORT', str(DEFAULT_MEMBER_KEYS_PORT))}"
    extra["GATEWAY_MEMBER_KEYS_ADDR"] = env("GATEWAY_MEMBER_KEYS_ADDR", keys)
    result = _run(paths, "start", extra)
    if result.returncode != 0:
        raise CliError(
            f"{SCRIPT} start failed (exit {result.returncode}; log {paths.log(NAME)})",
            detail=(result.stdout + result.stderr).strip(),
        )
    paths.address(NAME).write_text(address() + "\n")
    return address()


def stop(paths: Paths) -> None:
    result = _run(paths, "stop")
    if result.returncode != 0:
        raise CliError(
            f"{SCRIPT} stop failed (exit {result.returncode})", detail=(result.stdout + result.stderr).strip()
        )
    paths.address(NAME).unlink(missing_ok=True)


@dataclass(frozen=True)
class GatewayStatus:
    state: str  # running | stopped | unknown
    address: str
    detail: str
    log: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "address": self.address, "detail": self.detail, "log": self.log}


def status(paths: Paths) -> GatewayStatus:
    try:
        recorded = paths.address(NAME).read_text().strip()
    except FileNotFoundError:
        recorded = ""
    result = _run(paths, "status")
    state = {0: "running", 3: "stopped"}.get(result.returncode, "unknown")
    where = recorded if state == "running" and recorded else address()
    detail = (result.stdout.strip() or result.stderr.strip()).removeprefix("gateway: ")
    return GatewayStatus(state, where, detail, str(paths.log(NAME)))
