"""The system under test, started the way operators start it (`python -m services.<name> serve`, the real
Envoy from `scripts/gen_envoy.py`), each process pinned with taskset, and the data the benchmarks need put in
through the public APIs (never the databases): per hash profile a customer, registered at the customer
service, enrolled as a banking member at a member service running that profile, with three accounts opened
and funded at the account service and seen by the my_accounts view (through Kafka).

Two member services run side by side, one per hash profile ("cheap" and "owasp": a stored hash is verified
with its own parameters and rehashed at login when they differ from the service's, so one service cannot
measure both). They share the token signing keys, so either's tokens are good at account and my_accounts.

Settings for a benchmark (and only for it) that differ from production: the login throttles and the
gateway's global rate limit are set out of reach (the checks still run on every call), access tokens last 15
minutes (the maximum), HASH_WORKERS=1 (the member service runs on one core) with the default queue (one per worker)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
from confluent_kafka.admin import AdminClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adapters.outbound.kafka.security import ADMIN, KafkaAuth
from adapters.outbound.security.operator_tokens import issue_operator_token, load_or_create_operator_keys
from adapters.outbound.security.signing_keys import load_or_create_signing_keys
from bank.account.v1 import account_service_pb2, account_service_pb2_grpc
from bank.customer.v1 import customer_service_pb2, customer_service_pb2_grpc
from bank.member.v1 import member_service_pb2, member_service_pb2_grpc
from bank.my_accounts.v1 import my_accounts_service_pb2, my_accounts_service_pb2_grpc
from bench.method import CLIENT_CPUS, SERVER_CPUS, pin, taskset
from services.runtime.operators import operator_keys_dir
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "scripts" / "kafka-local.sh"
PROFILES = ("cheap", "owasp")
ACCOUNTS = 3
DEPOSIT = 150_000
TIMEOUT = 10.0


@dataclass
class Proc:
    """One process of the system, with the log it writes."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    address: str = ""  # gRPC address, for services
    process: subprocess.Popen | None = None

    def start(self, cpus: set[int] | None = None) -> None:
        """Start on `cpus` (every thread), or anywhere: `pin` moves it later."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [*(taskset(cpus) if cpus else []), *self.command], env=self.env, stdout=log, stderr=log, cwd=ROOT
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pin(self, cpus: set[int]) -> None:
        if self.process is not None and self.process.poll() is None:
            pin(self.pid, cpus)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def wait_serving(proc: Proc, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(proc.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.process is not None and proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log_tail()}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{proc.name} at {proc.address} not SERVING after {timeout}s:\n{proc.log_tail()}")


class Kafka:
    """The broker at KAFKA_BOOTSTRAP_SERVERS: reused if it answers, else started with scripts/kafka-local.sh
    (which honours KAFKA_RUN_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT) and stopped at the end."""

    def __init__(self) -> None:
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        self.started = False
        self.granted: set[str] = set()

    def credentials_dir(self) -> str:
        """The principals' password files (KAFKA_CREDENTIALS_DIR, else where kafka-local.sh keeps them)."""
        if os.environ.get("KAFKA_CREDENTIALS_DIR"):
            return os.environ["KAFKA_CREDENTIALS_DIR"]
        out = subprocess.run(["bash", str(KAFKA_SCRIPT), "env"], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)["KAFKA_CREDENTIALS_DIR"]

    def client(self, principal: str = ADMIN) -> dict[str, object]:
        """Client settings authenticated as `principal` (the bench is the broker's super user by default)."""
        base = KafkaAuth.from_env()
        auth = KafkaAuth(base.security_protocol, base.mechanism, Path(self.credentials_dir()), base.ssl_ca_location)
        return {"bootstrap.servers": self.bootstrap, **auth.client(principal)}

    def grant(self, prefix: str) -> None:
        """The services' ACLs and event topics for the bench's own topic prefix (once)."""
        from adapters.outbound.kafka.provisioning import grant_environment

        if prefix not in self.granted:
            grant_environment(AdminClient(self.client()), prefix)
            self.granted.add(prefix)

    def ensure(self) -> None:
        host, _, port = self.bootstrap.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            pass
        env = {**os.environ, "KAFKA_PORT": port}
        subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], check=True, env=env)  # noqa: S603, S607
        self.started = True

    def stop(self) -> None:
        if self.started:
            port = self.bootstrap.rpartition(":")[2]
            subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], check=False, env={**os.environ, "KAFKA_PORT": port})  # noqa: S603, S607


@dataclass
class Seeded:
    """A banking member with its accounts, as the benchmarks call them."""

    profile: str
    customer_id: str
    banking_id: str
    password: str
    access_token: str
    account_numbers: list[str] = field(default_factory=list)


class System:
    def __init__(self, folder: Path, with_envoy: bool) -> None:
        self.folder = folder
        self.var_dir = folder / "var"
        self.with_envoy = with_envoy
        self.kafka = Kafka()
        self.procs: dict[str, Proc] = {}
        self.members: dict[str, Proc] = {}
        self.seeded: dict[str, Seeded] = {}
        self.envoy: Proc | None = None
        self.envoy_port = 0
        self.envoy_admin_port = 0
        self.startup_seconds = 0.0
        self.phases: dict[str, float] = {}  # setup phase -> seconds

    # ----------------------------------------------------------------------------------------------- start
    def _service(self, name: str, label: str, **extra: str) -> Proc:
        self.kafka.grant(self.topic_prefix)
        port = free_port()
        prefix = name.upper()
        env = {
            **os.environ,
            "KAFKA_CREDENTIALS_DIR": self.kafka.credentials_dir(),
            "VAR_DIR": str(self.var_dir / label),
            # one local CA for every service (mutual TLS on my_accounts' internal port), whatever its VAR_DIR
            "SERVICE_TLS_DIR": str(self.var_dir / "service-tls"),
            "OPERATOR_JWKS_FILE": str(operator_keys_dir(self.var_dir) / "jwks.json"),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            f"{prefix}_KAFKA_GROUP_ID": f"{label}-{uuid.uuid4().hex[:8]}",
            f"{prefix}_GRPC_PORT": str(port),
            f"{prefix}_REST_PORT": str(free_port()),
            f"{prefix}_METRICS_PORT": str(free_port()),  # two member services: never the default port
            "MEMBER_KEYS_PORT": str(free_port()),  # read by the member service only
            "SHUTDOWN_GRACE_SECONDS": "2",
            **extra,
        }
        (self.var_dir / label).mkdir(parents=True, exist_ok=True)
        proc = Proc(label, [sys.executable, "-m", f"services.{name}", "serve"], env, self.folder / f"{label}.log")
        proc.address = f"127.0.0.1:{port}"
        self.procs[label] = proc
        return proc

    def add_view_replica(self) -> Proc:
        """A second my_accounts replica, as a scaled-out deployment runs it: the same view database and consumer
        group (the replicas share the topics' partitions), its own ports and group.instance.id. SERVING on return."""
        first = self.procs["my_accounts"]
        replica = self._service(
            "my_accounts",
            "my_accounts_2",
            MEMBER_JWKS_URL=first.env["MEMBER_JWKS_URL"],
            MY_ACCOUNTS_INTERNAL_PORT=str(free_port()),
            MY_ACCOUNTS_DATABASE_URL=f"sqlite+aiosqlite:///{self.var_dir / 'my_accounts' / 'my_accounts.db'}",
            MY_ACCOUNTS_KAFKA_GROUP_ID=first.env["MY_ACCOUNTS_KAFKA_GROUP_ID"],
            MY_ACCOUNTS_KAFKA_GROUP_INSTANCE_ID=f"bench-my-accounts-{uuid.uuid4().hex[:6]}",
        )
        replica.start(CLIENT_CPUS)
        wait_serving(replica)
        return replica

    def rest_url(self, label: str) -> str:
        proc = self.procs[label]
        name = "member" if label.startswith("member") else label
        return f"http://127.0.0.1:{proc.env[f'{name.upper()}_REST_PORT']}"

    def keys_url(self, label: str) -> str:
        """The member service's keys listener (JWKS and discovery)."""
        return f"http://127.0.0.1:{self.procs[label].env['MEMBER_KEYS_PORT']}"

    def start(self) -> None:
        began = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.kafka.ensure()
        self.topic_prefix = f"bench{uuid.uuid4().hex[:8]}."
        load_or_create_operator_keys(operator_keys_dir(self.var_dir))
        # The member services' token signing keys, made before they start: both read the same ones.
        load_or_create_signing_keys(self.var_dir / "keys" / "member")
        internal = free_port()
        member_env = {
            "MY_ACCOUNTS_ADDR": f"127.0.0.1:{internal}",
            "JWT_KEYS_DIR": str(self.var_dir / "keys" / "member"),  # shared by both member services
            "ACCESS_TOKEN_SECONDS": "900",
            "HASH_WORKERS": "1",
            "THROTTLE_SOURCE_CAPACITY": "100000000",
            "THROTTLE_SOURCE_PER_SECOND": "100000000",
            "THROTTLE_ID_CAPACITY": "100000000",
            "THROTTLE_ID_PER_SECOND": "100000000",
        }
        for profile in PROFILES:
            self.members[profile] = self._service("member", f"member_{profile}", HASH_PROFILE=profile, **member_env)
        jwks = f"{self.keys_url('member_cheap')}/.well-known/jwks.json"
        self._service("customer", "customer")
        self._service("account", "account", MEMBER_JWKS_URL=jwks)
        self._service(
            "my_accounts",
            "my_accounts",
            MEMBER_JWKS_URL=jwks,
            MY_ACCOUNTS_INTERNAL_PORT=str(internal),
            # static membership, as a StatefulSet's replica has: a restart takes its partitions back at once ((d))
            MY_ACCOUNTS_KAFKA_GROUP_INSTANCE_ID=f"bench-my-accounts-{uuid.uuid4().hex[:6]}",
        )
        for proc in self.procs.values():
            proc.start()  # setup may use every core; each benchmark then pins (`pin_only`) every thread
        for proc in self.procs.values():
            wait_serving(proc)
        self.phases["services_serving"] = round(time.monotonic() - began, 1)
        asyncio.run(self._seed_all())
        self.phases["seeded"] = round(time.monotonic() - began, 1)
        if self.with_envoy:
            self._start_envoy()
            self.phases["envoy_routing"] = round(time.monotonic() - began, 1)
        self.startup_seconds = time.monotonic() - began

    def _start_envoy(self) -> None:
        self.envoy_port, self.envoy_admin_port = free_port(), free_port()
        out = self.folder / "envoy"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "MEMBER_JWKS_FILE"},
            "GATEWAY_PORT": str(self.envoy_port),
            "GATEWAY_ADMIN_PORT": str(self.envoy_admin_port),
            "GATEWAY_CUSTOMER_ADDR": self.procs["customer"].address,
            "GATEWAY_MEMBER_ADDR": self.members["cheap"].address,
            "GATEWAY_ACCOUNT_ADDR": self.procs["account"].address,
            "GATEWAY_MY_ACCOUNTS_ADDR": self.procs["my_accounts"].address,
            "GATEWAY_MEMBER_KEYS_ADDR": self.keys_url("member_cheap").removeprefix("http://"),
            "GATEWAY_GLOBAL_RPS": "100000000",
            "GATEWAY_GLOBAL_BURST": "100000000",
            # one client (this process) at every rate: its own buckets as large as the ceiling
            "GATEWAY_CLIENT_RPS": "100000000",
            "GATEWAY_CLIENT_BURST": "100000000",
            "MEMBER_JWKS_FILE": "",
            "OPERATOR_JWKS_FILE": str(operator_keys_dir(self.var_dir) / "jwks.json"),
        }
        subprocess.run(  # noqa: S603 - the generator, as an operator runs it
            [sys.executable, str(ROOT / "scripts" / "gen_envoy.py"), "--out-dir", str(out)],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        envoy_bin = shutil.which("envoy", path=str(Path(sys.executable).parent)) or "envoy"
        command = [envoy_bin, "-c", str(out / "envoy.yaml"), "--base-id", str(secrets.randbelow(2_000_000) + 10_000),
                   "--concurrency", "1", "--log-level", "warn"]  # fmt: skip
        self.envoy = Proc("envoy", command, dict(os.environ), self.folder / "envoy.log")
        self.envoy.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.envoy.process is not None and self.envoy.process.poll() is not None:
                raise RuntimeError(f"envoy exited:\n{self.envoy.log_tail()}")
            try:
                ready = httpx.get(f"http://127.0.0.1:{self.envoy_admin_port}/ready", timeout=0.5)
                if ready.status_code == 200 and ready.text.strip() == "LIVE":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise TimeoutError(f"envoy not ready:\n{self.envoy.log_tail()}")
        # Ready is not routable yet: wait until the gateway answers the benchmark's call (health checks).
        token = self.seeded["cheap"].access_token
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(
                f"http://127.0.0.1:{self.envoy_port}/v1/my/accounts",
                headers={"authorization": f"Bearer {token}"},
                timeout=2,
            )
            if answer.status_code == 200 and len(answer.json().get("accounts", [])) == ACCOUNTS:
                return
            time.sleep(0.2)
        raise TimeoutError(f"gateway never answered ListMyAccounts: {answer.status_code} {answer.text[:300]}")

    # --------------------------------------------------------------------------------------------- seeding
    async def _seed_all(self) -> None:
        await asyncio.gather(*(self._seed(profile) for profile in PROFILES))

    async def _seed(self, profile: str) -> None:
        keys = load_or_create_operator_keys(operator_keys_dir(self.var_dir))
        operator = [("authorization", f"Bearer {issue_operator_token(keys, 'bench', datetime.now(UTC), 900)}")]
        suffix = secrets.token_hex(4)
        banking_id = f"bench-{profile}-{suffix}"
        password = f"bench {profile} {secrets.token_hex(8)}"
        async with (
            grpc.aio.insecure_channel(self.procs["customer"].address) as customer_channel,
            grpc.aio.insecure_channel(self.members[profile].address) as member_channel,
            grpc.aio.insecure_channel(self.procs["account"].address) as account_channel,
            grpc.aio.insecure_channel(self.procs["my_accounts"].address) as view_channel,
        ):
            customers = customer_service_pb2_grpc.CustomerServiceStub(customer_channel)
            members = member_service_pb2_grpc.MemberServiceStub(member_channel)
            accounts = account_service_pb2_grpc.AccountServiceStub(account_channel)
            view = my_accounts_service_pb2_grpc.MyAccountsServiceStub(view_channel)
            registered = await customers.RegisterCustomer(
                customer_service_pb2.RegisterCustomerRequest(name=f"벤치 {suffix}"), metadata=operator, timeout=TIMEOUT
            )
            customer_id = registered.customer.customer_id
            enroll = member_service_pb2.EnrollMemberRequest(
                customer_id=customer_id, banking_id=banking_id, password=password
            )
            await _retry_failed_precondition(lambda: members.EnrollMember(enroll, metadata=operator, timeout=TIMEOUT))
            login = await members.Login(
                member_service_pb2.LoginRequest(banking_id=banking_id, password=password), timeout=TIMEOUT
            )
            bearer = [("authorization", f"Bearer {login.access_token}")]
            seeded = Seeded(profile, customer_id, banking_id, password, login.access_token)
            last_sequence = 0
            for i in range(ACCOUNTS):
                open_request = account_service_pb2.OpenAccountRequest(
                    customer_id=customer_id, product_code="SAVINGS", idempotency_key=f"bench-open-{suffix}-{i}"
                )
                opened = await _retry_failed_precondition(
                    lambda r=open_request: accounts.OpenAccount(r, metadata=bearer, timeout=TIMEOUT)
                )
                number = opened.account.account_number
                deposited = await accounts.Deposit(
                    account_service_pb2.DepositRequest(
                        account_number=number, amount=DEPOSIT * (i + 1), idempotency_key=f"bench-dep-{suffix}-{i}"
                    ),
                    metadata=bearer,
                    timeout=TIMEOUT,
                )
                seeded.account_numbers.append(number)
                last_sequence = deposited.account.sequence
            deadline = time.monotonic() + 60
            while True:  # the view has all three, funded (read your own write on the last deposit)
                listed = await view.ListMyAccounts(
                    my_accounts_service_pb2.ListMyAccountsRequest(
                        account_number=seeded.account_numbers[-1], min_sequence=last_sequence
                    ),
                    metadata=bearer,
                    timeout=TIMEOUT,
                )
                if listed.min_sequence_reached and len(listed.accounts) == ACCOUNTS:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the view never showed {ACCOUNTS} funded accounts: {listed}")
                await asyncio.sleep(0.1)
        self.seeded[profile] = seeded

    async def fresh_tokens(self) -> None:
        """Log each seeded member in again: a long run outlives an access token (15 minutes at most), and a
        section measured with an expired one measures refusals."""
        for profile, seeded in self.seeded.items():
            async with grpc.aio.insecure_channel(self.members[profile].address) as channel:
                login = await member_service_pb2_grpc.MemberServiceStub(channel).Login(
                    member_service_pb2.LoginRequest(banking_id=seeded.banking_id, password=seeded.password),
                    timeout=TIMEOUT,
                )
            seeded.access_token = login.access_token

    # ---------------------------------------------------------------------------------------------- pinning
    def pin_only(self, *subjects: Proc) -> None:
        """The subjects on the server core, every other process of the system off it."""
        everyone = [*self.procs.values(), *([self.envoy] if self.envoy else [])]
        for proc in everyone:
            proc.pin(SERVER_CPUS if proc in subjects else CLIENT_CPUS)

    def python_services(self) -> list[Proc]:
        return list(self.procs.values())

    def stop(self) -> None:
        everyone = [*([self.envoy] if self.envoy else []), *self.procs.values()]
        for proc in everyone:  # SIGTERM to all first, so their graceful stops overlap
            if proc.process is not None and proc.process.poll() is None:
                proc.process.terminate()
        for proc in everyone:
            proc.stop()
        self.kafka.stop()


async def _retry_failed_precondition(call, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    """`call()` again while FAILED_PRECONDITION: a service has not learnt of the customer from Kafka yet."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
