"""The operator CLI as operators run it (`bank up`, `status`, `demo`, `down`) against the real broker, in a
temporary var directory on a free port; and `bank down` never signalling a PID that is not a service."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.outbound.security.operator_tokens import JwksFileVerifier
from services.cli.main import app
from services.cli.processes import alive
from services.cli.registry import SERVICES
from tests.conftest import ROOT, free_port

BANK = Path(sys.executable).with_name("bank")


def bank(
    *args: str, env: dict[str, str], timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    # The installed console script, as the README runs it; `python -m services.cli` if not installed.
    command = [str(BANK)] if BANK.exists() else [sys.executable, "-m", "services.cli"]
    return subprocess.run(
        [*command, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, input=input
    )


def status(env: dict[str, str]) -> dict:
    result = bank("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {s["name"]: s for s in report["services"]}


@pytest.mark.kafka
def test_up_status_demo_down(tmp_path: Path, kafka: str) -> None:
    var = tmp_path / "var"
    rest, internal = free_port(), free_port()
    env = {
        **os.environ,
        "BANK_VAR_DIR": str(var),
        **{spec.port_env: str(free_port()) for spec in SERVICES},
        # Every service serves REST too: on free ports, not the defaults a `bank up` of someone else may hold.
        **{f"{spec.name.upper()}_REST_PORT": str(free_port()) for spec in SERVICES},
        **{f"{spec.name.upper()}_METRICS_PORT": str(free_port()) for spec in SERVICES},
        "MEMBER_KEYS_PORT": str(rest),
        "MEMBER_JWKS_URL": f"http://127.0.0.1:{rest}/.well-known/jwks.json",
        "MY_ACCOUNTS_INTERNAL_PORT": str(internal),
        "MY_ACCOUNTS_ADDR": f"127.0.0.1:{internal}",
        "HASH_PROFILE": "cheap",
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        # A fresh group per service: one shared group would split the customer topic among the consumers. Each
        # starts with the service's name: the service's Kafka principal may join only such groups.
        **{f"{spec.name.upper()}_KAFKA_GROUP_ID": f"{spec.name}-cli-test-{tmp_path.name}" for spec in SERVICES},
        "SHUTDOWN_GRACE_SECONDS": "2",
        "GATEWAY_PORT": str(free_port()),
        "GATEWAY_ADMIN_PORT": str(free_port()),
    }
    for spec in SERVICES:
        start_at_end(kafka, env[f"{spec.name.upper()}_KAFKA_GROUP_ID"])
    try:
        up = bank("up", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        services = by_name(status(env))
        assert len(envoys(var)) == 1  # the gateway runs, and this check can see it
        assert set(services) == {spec.name for spec in SERVICES}
        for name, service in services.items():
            assert (service["state"], service["health"]) == ("running", "SERVING"), name
            assert alive(service["pid"])
            assert (var / "run" / f"{name}.pid").read_text().strip() == str(service["pid"])
            assert (var / f"{name}.db").exists()  # each service's database is in the var directory too
        gateway = status(env)["gateway"]
        assert (gateway["state"], gateway["address"]) == ("running", f"127.0.0.1:{env['GATEWAY_PORT']}")
        assert (var / "run" / "gateway.pid").exists()  # the gateway's files are in the var directory too

        again = bank("up", "--json", env=env)  # idempotent: running services are left alone
        assert again.returncode == 0, again.stderr
        assert {n: s["pid"] for n, s in by_name(json.loads(again.stdout)).items()} == {
            n: s["pid"] for n, s in services.items()
        }

        # One service alone: `bank stop` leaves the others running; `bank restart` starts it again (or stops and
        # starts a running one) with `up`'s wait for SERVING.
        stopped = bank("stop", "customer", env=env)
        assert stopped.returncode == 0, stopped.stderr
        after_stop = by_name(status(env))
        assert after_stop["customer"]["state"] == "stopped" and not alive(services["customer"]["pid"])
        assert {n: s["pid"] for n, s in after_stop.items() if n != "customer"} == {
            n: s["pid"] for n, s in services.items() if n != "customer"
        }
        for _ in range(2):  # from stopped, then from running
            restarted = bank("restart", "customer", env=env)
            assert restarted.returncode == 0, restarted.stderr
            assert "customer SERVING after" in restarted.stderr
            customer = by_name(status(env))["customer"]
            assert (customer["state"], customer["health"]) == ("running", "SERVING")
        assert customer["pid"] != services["customer"]["pid"]
        unknown = bank("restart", "nope", env=env)
        assert unknown.returncode != 0 and "unknown service 'nope'" in unknown.stderr
        services = by_name(status(env))

        demo = bank("demo", env=env)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        lines = demo.stdout.splitlines()
        assert f"through the gateway at 127.0.0.1:{env['GATEWAY_PORT']}" in lines[0]  # every call goes through it
        assert "CustomerTerminated" in demo.stdout and "FAILED_PRECONDITION" in demo.stdout
        assert "LoginSucceeded" in demo.stdout and "SessionsRevoked" in demo.stdout
        # A member's access token cannot call an operator RPC: the gateway refuses it before the service.
        assert "refused by the gateway: UNAUTHENTICATED" in step(lines, "operator RPC EnrollMember")[1]
        assert "/v1/my/accounts" in demo.stdout and "401" in demo.stdout  # the REST listing through the gateway
        # The three accounts (ordered by number), one at 70000: 100,000 deposited, 30,000 withdrawn.
        assert balances(step(lines, "List my accounts over REST through the gateway: GET")) == [0, 0, 70000]
        grpc_listing = step(lines, "List my accounts over gRPC through the gateway")
        assert "3 account(s)" in grpc_listing[1] and balances(grpc_listing) == [0, 0, 70000]
        assert "UNAVAILABLE" in step(lines, "Stop the account service")[1]  # it is down: the gateway says so
        while_down = step(lines, "while the account service is down")
        assert "200, the same 3 account(s)" in while_down[1] and "the account service is down" in while_down[1]
        assert all("asOf 20" in line for line in while_down[2:5]) and balances(while_down) == [0, 0, 70000]
        assert "balance 70000" in step(lines, "Start the account service again")[1]  # answering again
        after_termination = step(lines, "last access token")
        assert "after the termination" in after_termination[0]
        assert "gRPC UNAUTHENTICATED" in after_termination[1] and "v1/my/accounts: 401" in after_termination[1]
        assert "refused" in step(lines, "Log in while the customer is terminated")[1]

        # The demo restarted the account service as `bank up` does: all four run again.
        after = by_name(status(env))
        for name, service in after.items():
            assert (service["state"], service["health"]) == ("running", "SERVING"), name
        assert after["account"]["pid"] != services["account"]["pid"]
        assert not alive(services["account"]["pid"])
        assert {n: s["pid"] for n, s in after.items() if n != "account"} == {
            n: s["pid"] for n, s in services.items() if n != "account"
        }

        # The examples, against this system (its gateway port, its var directory's operator keys).
        examples = {**env, "GATEWAY_URL": f"http://127.0.0.1:{env['GATEWAY_PORT']}"}
        for command in (
            [sys.executable, "examples/python_stubs.py"],
            ["bash", "examples/grpcurl.sh"],
            ["bash", "examples/curl.sh"],
        ):
            run = subprocess.run(command, env=examples, cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, f"{command}: {run.stdout}{run.stderr}"
            assert run.stdout.splitlines()[-1].startswith("done: account "), run.stdout
            assert "lists balance 100000 through the gateway" in run.stdout, run.stdout
            if command[-1] == "examples/curl.sh":
                assert "GET /openapi.json: swagger 2.0" in run.stdout

        down = bank("down", "--keep-kafka", env=env)
        assert down.returncode == 0, down.stderr
        for name, service in after.items():
            assert not alive(service["pid"])
            assert not (var / "run" / f"{name}.pid").exists()
        for service in by_name(status(env)).values():
            assert (service["state"], service["pid"], service["health"]) == ("stopped", None, "UNREACHABLE")
        assert status(env)["gateway"]["state"] == "stopped"
        assert not envoys(var)
    finally:
        bank("down", "--keep-kafka", env=env)  # whatever happened above, leave nothing running
    assert not envoys(var), "bank down left Envoy running"


def step(lines: list[str], title: str) -> list[str]:
    """The demo's output from the step whose title line contains `title`: the title, then its detail lines."""
    for i, line in enumerate(lines):
        if title in line and line.split(".", 1)[0].isdigit():
            return lines[i:]
    raise AssertionError(f"no step {title!r} in the demo's output:\n" + "\n".join(lines))


def balances(listing: list[str]) -> list[int]:
    """The sorted balances of the three account lines of a listing step ("<number>  <product> balance <n> ...")."""
    return sorted(int(line.split("balance", 1)[1].split()[0]) for line in listing[2:5])


def start_at_end(bootstrap: str, group: str) -> None:
    """Commit the group's offsets at the end of the event topics, so a fresh service starts with this test's
    events instead of replaying every earlier test's (the shared broker's account topic holds a long history,
    which the my_accounts view would take minutes to go through)."""
    from confluent_kafka import KafkaException

    for attempt in range(5):  # a broker that has just started may not have its group coordinator ready yet
        try:
            _commit_at_end(bootstrap, group)
            return
        except KafkaException:
            if attempt == 4:
                raise
            time.sleep(2)


def _commit_at_end(bootstrap: str, group: str) -> None:
    from confluent_kafka import Consumer, TopicPartition

    from tests.kafka_auth import admin

    consumer = Consumer({**admin(bootstrap), "group.id": group, "enable.auto.commit": False})
    try:
        ends = []
        for topic in ("bank.customer.events.v1", "bank.member.events.v1", "bank.account.events.v1"):
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                ends.append(TopicPartition(topic, partition, high))
        if ends:  # none on a fresh broker: the topics do not exist yet
            consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def envoys(var: Path) -> list[str]:
    """The Envoy processes `bank up` started for this var directory (its config is rendered under it); none
    may be left after `bank down`. Other Envoys (the gateway suite's own) are not this test's business."""
    found = subprocess.run(["pgrep", "-af", "envoy -c"], capture_output=True, text=True, check=False).stdout
    return [line for line in found.splitlines() if "/envoy" in line and str(var) in line]


def test_down_never_signals_a_pid_that_is_not_a_service(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        run = tmp_path / "var" / "run"
        run.mkdir(parents=True)
        (run / "customer.pid").write_text(f"{sleeper.pid}\n")  # as if the PID had been reused by `sleep`
        result = CliRunner().invoke(app, ["--var-dir", str(tmp_path / "var"), "down", "--keep-kafka"])
        assert result.exit_code == 0, result.output
        assert sleeper.poll() is None, "bank down signalled a process that is not a service"
        assert not (run / "customer.pid").exists()  # the stale PID file is gone
        assert "not signalled" in result.output
    finally:
        sleeper.kill()
        sleeper.wait()


def test_down_removes_the_pid_file_of_a_dead_process(tmp_path: Path) -> None:
    run = tmp_path / "var" / "run"
    run.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run / "customer.pid").write_text(f"{dead.pid}\n")
    result = CliRunner().invoke(app, ["--var-dir", str(tmp_path / "var"), "down", "--keep-kafka"])
    assert result.exit_code == 0, result.output
    assert not (run / "customer.pid").exists()


def test_operator_token_prints_a_verifiable_token_on_stdout_only(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = CliRunner().invoke(app, ["--var-dir", str(var), "operator-token", "--name", "ops.kim", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2 and token not in result.stderr
    keys = var / "keys" / "operator"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) for p in keys.glob("*.pem")] == [0o600]
    now = datetime.now(UTC)
    claims = JwksFileVerifier(keys / "jwks.json").verify(token, now)
    assert claims.operator == "ops.kim" and claims.expires_at <= now + timedelta(seconds=60)
    again = CliRunner().invoke(app, ["--var-dir", str(var), "operator-token"])  # same key, a new token
    assert again.exit_code == 0 and again.stdout.strip() != token and len(list(keys.glob("*.pem"))) == 1
    for args in (["--ttl", "3601"], ["--ttl", "0"], ["--name", "Not Valid"], ["--name", "x" * 65]):
        refused = CliRunner().invoke(app, ["--var-dir", str(var), "operator-token", *args])
        assert refused.exit_code != 0 and refused.stdout == "", args
