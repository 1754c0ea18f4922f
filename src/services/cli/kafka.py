"""The local Kafka broker, through scripts/kafka-local.sh (start is idempotent; status exits 0 when running,
3 when stopped)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.cli.console import CliError
from services.cli.paths import Paths, env, find_root

# The CLI's principal on the event bus (adapters/outbound/kafka/security.py): reads every topic and dead letter,
# writes back only what `bank dlq redrive` redrives.
OPERATOR = "bank-operator"

# First start downloads the broker's jars with Maven; the script bounds its own readiness wait (120 s),
# this only stops the CLI from hanging forever on a stuck download.
START_TIMEOUT = 900.0


def bootstrap_servers() -> str:
    return env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def credentials_dir() -> str:
    """Where kafka-local.sh keeps one password file per principal: KAFKA_CREDENTIALS_DIR, else beside its
    run directory (KAFKA_RUN_DIR, default <repo>/var/kafka). Handed to every service the CLI starts."""
    if os.environ.get("KAFKA_CREDENTIALS_DIR"):
        return os.environ["KAFKA_CREDENTIALS_DIR"]
    run_dir = Path(os.environ.get("KAFKA_RUN_DIR") or find_root() / "var" / "kafka")
    return str((run_dir if run_dir.is_absolute() else find_root() / run_dir) / "credentials")


def client(principal: str = OPERATOR) -> dict[str, Any]:
    """librdkafka settings of a client of the local broker that authenticates as `principal`."""
    from adapters.outbound.kafka.security import KafkaAuth

    base = KafkaAuth.from_env()
    auth = KafkaAuth(base.security_protocol, base.mechanism, Path(credentials_dir()), base.ssl_ca_location)
    try:
        return {"bootstrap.servers": bootstrap_servers(), **auth.client(principal)}
    except RuntimeError as exc:
        raise CliError(f"{exc} (start Kafka with `bank up` or scripts/kafka-local.sh start)") from None


@dataclass(frozen=True)
class KafkaStatus:
    state: str  # running | stopped | unknown
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "bootstrap_servers": bootstrap_servers(), "detail": self.detail}


def _run(paths: Paths, action: str, timeout: float) -> subprocess.CompletedProcess[str]:
    script = paths.kafka_script
    if not script.is_file():
        raise CliError(f"{script} is missing")
    try:
        # Through bash, so a checkout without the executable bit still works.
        return subprocess.run(  # noqa: S603 - fixed script of this repository, no shell string
            ["bash", str(script), action],  # noqa: S607 - bash from PATH
            cwd=paths.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CliError(f"{script.name} {action} did not finish within {timeout:.0f} s") from exc


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())


def start(paths: Paths) -> None:
    result = _run(paths, "start", START_TIMEOUT)
    if result.returncode != 0:
        lines = _output(result).splitlines()[-20:]
        raise CliError(
            f"Kafka did not start (kafka-local.sh start exited {result.returncode})", detail="\n".join(lines)
        )


def stop(paths: Paths) -> None:
    result = _run(paths, "stop", 120.0)
    if result.returncode != 0:
        raise CliError(f"Kafka did not stop (kafka-local.sh stop exited {result.returncode})", detail=_output(result))


def status(paths: Paths) -> KafkaStatus:
    try:
        result = _run(paths, "status", 30.0)
    except CliError as exc:
        return KafkaStatus("unknown", str(exc))
    state = {0: "running", 3: "stopped"}.get(result.returncode, "unknown")
    return KafkaStatus(state, result.stdout.strip() or result.stderr.strip())
