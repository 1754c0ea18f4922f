"""The services `bank up` starts, in start order (`bank down` stops them in reverse). A new service is one
line here: its name, its module (`python -m <module>`), and the variable holding its gRPC port."""

from __future__ import annotations

from dataclasses import dataclass

from services.cli.console import CliError
from services.cli.paths import env


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_env: str
    default_port: int

    def port(self) -> int:
        raw = env(self.port_env, str(self.default_port))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise CliError(f"{self.port_env}={raw!r} is not a TCP port number")
        return int(raw)

    def bind_host(self) -> str:
        # The services read GRPC_HOST (services/runtime/settings.py); the CLI passes it on unchanged.
        return env("GRPC_HOST", "127.0.0.1")

    def address(self) -> str:
        """Where to reach the service: a wildcard bind address is reached on loopback."""
        host = self.bind_host()
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host  # noqa: S104 - compared, not bound
        return f"{host}:{self.port()}"


# Default ports are the services' own defaults (e.g. services/customer/bootstrap.py DEFAULT_PORT), repeated
# here so the CLI does not import every service's dependencies just to print a table.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("customer", "services.customer", "CUSTOMER_GRPC_PORT", 50051),
    ServiceSpec("member", "services.member", "MEMBER_GRPC_PORT", 50052),
    ServiceSpec("account", "services.account", "ACCOUNT_GRPC_PORT", 50053),
    ServiceSpec("my_accounts", "services.my_accounts", "MY_ACCOUNTS_GRPC_PORT", 50054),
)


def get(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise CliError(f"unknown service {name!r} (known: {', '.join(s.name for s in SERVICES)})")
