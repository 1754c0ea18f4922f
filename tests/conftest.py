"""Fixtures shared by every suite: the real Kafka broker and the real Redis server (one each per test run,
started if not running) and service processes started the way operators start them (`python -m services.<name>`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests import kafka_auth
from tests.databases import fresh_postgres_database, postgres_server
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "scripts" / "kafka-local.sh"
REDIS_SCRIPT = ROOT / "scripts" / "redis-local.sh"


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap servers of the real broker. Reuses a running one; stops it at the end only if it started it."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    running = subprocess.run(["bash", str(KAFKA_SCRIPT), "status"], capture_output=True).returncode == 0
    if not running:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], check=True)
    # The broker authenticates every client: the services started by the tests read their principals'
    # passwords from here (inherited through the environment).
    os.environ.setdefault("KAFKA_CREDENTIALS_DIR", str(kafka_auth.credentials_dir()))
    kafka_auth.grant_prefix(bootstrap, "")
    yield bootstrap
    if not running:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], check=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL (postgresql+asyncpg://) whose role may create schemas and databases: TEST_POSTGRES_URL
    (scripts/test.sh sets it), else scripts/postgres-local.sh's server, started if not running."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, for a service process (<SERVICE>_DATABASE_URL)."""
    with fresh_postgres_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the real Redis server (scripts/redis-local.sh, Debian's redis-server): REDIS_URL when set (as
    scripts/test.sh sets it), else the local one on REDIS_PORT, started here and stopped at the end if it was
    not running. Each test keeps to its own key prefix."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    running = subprocess.run(["bash", str(REDIS_SCRIPT), "status"], capture_output=True).returncode == 0
    if not running:
        subprocess.run(["bash", str(REDIS_SCRIPT), "start"], check=True)
    url = subprocess.run(["bash", str(REDIS_SCRIPT), "env"], capture_output=True, text=True, check=True).stdout
    yield url.strip().split("=", 1)[1]
    if not running:
        subprocess.run(["bash", str(REDIS_SCRIPT), "stop"], check=True)


def wait_serving(address: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"service exited with {process.returncode}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{address} not SERVING after {timeout}s")


@dataclass
class ServiceProcess:
    """A service started as operators start it. `address` is its gRPC address, `rest_url` its REST one."""

    name: str
    address: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    spawned: list[subprocess.Popen] = field(default_factory=list)  # every process of any role, for teardown

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.env[f'{self.name.upper()}_REST_PORT']}"

    @property
    def keys_url(self) -> str:
        """The member service's keys listener (JWKS and discovery only)."""
        return f"http://127.0.0.1:{self.env['MEMBER_KEYS_PORT']}"

    @property
    def jwks_url(self) -> str:
        return f"{self.keys_url}/.well-known/jwks.json"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env[f'{self.name.upper()}_METRICS_PORT']}/metrics"

    def start(self, role: str = "serve", wait: bool = True) -> subprocess.Popen:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}", role], env=self.env, stdout=log, stderr=log, cwd=ROOT
        )
        self.spawned.append(process)
        if role == "serve":
            self.process = process
            if wait:
                wait_serving(self.address, process=process)
        return process

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def stop_everything(self) -> None:
        """Teardown: every process this service ever spawned, whatever its role, gracefully or not."""
        self.stop()
        for process in self.spawned:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def topic_prefix() -> str:
    """This test's own topic namespace (KAFKA_TOPIC_PREFIX): a new consumer group then replays only this
    test's events, not every earlier test's history on the shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    """Where service_factory's services keep their data: "sqlite" (files under VAR_DIR, the default) or
    "postgres" (a fresh database per service started). A test runs on both with
    @pytest.mark.parametrize("database_backend", BACKENDS, indirect=True)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def service_factory(
    tmp_path: Path, kafka: str, topic_prefix: str, database_backend: str, request: pytest.FixtureRequest
) -> Iterator:
    started: list[tuple[ServiceProcess, list[subprocess.Popen]]] = []
    databases = contextlib.ExitStack()

    def make(name: str, **extra_env: str) -> ServiceProcess:
        kafka_auth.grant_prefix(kafka, extra_env.get("KAFKA_TOPIC_PREFIX", topic_prefix))
        port = free_port()
        database: dict[str, str] = {}
        if database_backend == "postgres":
            url = databases.enter_context(fresh_postgres_database(request.getfixturevalue("postgres_url")))
            database[f"{name.upper()}_DATABASE_URL"] = url
        env = {
            **os.environ,
            **database,
            "VAR_DIR": str(tmp_path / "var"),
            # one local CA for this test's services (mutual TLS on my_accounts' internal port)
            "SERVICE_TLS_DIR": str(tmp_path / "service-tls"),
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            f"{name.upper()}_GRPC_PORT": str(port),
            f"{name.upper()}_REST_PORT": str(free_port()),
            f"{name.upper()}_METRICS_PORT": str(free_port()),
            "MEMBER_KEYS_PORT": str(free_port()),  # read by the member service only
            "SHUTDOWN_GRACE_SECONDS": "2",
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            # a fresh consumer group: other tests' progress on the shared topics stays out
            f"{name.upper()}_KAFKA_GROUP_ID": f"{name}-{uuid.uuid4().hex[:8]}",
            **extra_env,
        }
        service = ServiceProcess(name, f"127.0.0.1:{port}", env, tmp_path / f"{name}.log")
        started.append((service, []))
        return service

    yield make
    for service, _ in started:
        service.stop_everything()
    databases.close()
