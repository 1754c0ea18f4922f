"""One running system (the four services, each with its REST adapter, and Envoy) for every fuzz test: started
once for the package, on its own ports, var directory and topic prefix, torn down at the end. Also the
hypothesis profiles: `ci` (the default: bounded, derandomized, no example database) and `long`
(FUZZ_PROFILE=long: ten times the examples, randomized)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import kafka_auth
from tests.conftest import ServiceProcess, free_port
from tests.fuzz.world import Fixtures
from tests.integration.full_system import FullSystem

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
settings.register_profile(
    "ci",
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.register_profile(
    "long", max_examples=EXAMPLES * 10, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory, kafka: str) -> Iterator[FullSystem]:
    root = tmp_path_factory.mktemp("fuzz")
    prefix = f"fz{uuid.uuid4().hex[:8]}."
    started: list[ServiceProcess] = []

    def make(name: str, **extra_env: str) -> ServiceProcess:
        kafka_auth.grant_prefix(kafka, prefix)
        env = {
            **os.environ,
            "VAR_DIR": str(root / "var"),
            "SERVICE_TLS_DIR": str(root / "service-tls"),  # one local CA for the system's mutual TLS
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            f"{name.upper()}_GRPC_PORT": str(free_port()),
            f"{name.upper()}_REST_PORT": str(free_port()),
            "MEMBER_KEYS_PORT": str(free_port()),  # read by the member service only
            "SHUTDOWN_GRACE_SECONDS": "2",
            "KAFKA_TOPIC_PREFIX": prefix,
            f"{name.upper()}_KAFKA_GROUP_ID": f"{name}-{uuid.uuid4().hex[:8]}",
            **extra_env,
        }
        service = ServiceProcess(name, env[f"{name.upper()}_GRPC_PORT"], env, root / f"{name}.log")
        service.address = f"127.0.0.1:{env[f'{name.upper()}_GRPC_PORT']}"
        started.append(service)
        return service

    full = FullSystem(make, root / "gateway")
    full.topic_prefix = prefix  # type: ignore[attr-defined]
    full.root = root  # type: ignore[attr-defined]
    try:
        yield full
    finally:
        try:
            full.stop()
        finally:
            for service in started:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    service.stop_everything()


@pytest.fixture(scope="package")
def fixtures(system: FullSystem) -> Fixtures:
    return Fixtures(system)


def service_root(system: FullSystem) -> Path:
    return system.root  # type: ignore[attr-defined]
