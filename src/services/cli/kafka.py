"""The local Kafka broker, through scripts/kafka-local.sh (start is idempotent; status exits 0 when running,
3 when stopped)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from services.cli.console import CliError
from services.cli.paths import Paths, env

# First start downloads the broker's jars with Maven; the script bounds its own readiness wait (120 s),
# this only stops the CLI from hanging forever on a stuck download.
START_TIMEOUT = 900.0


def bootstrap_servers() -> str:
    return env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


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
