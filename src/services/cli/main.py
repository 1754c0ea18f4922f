"""`bank`: the operator CLI. `bank up` starts Kafka, every service and the gateway, `bank status` shows what runs,
`bank restart SERVICE` and `bank stop SERVICE` act on one service, `bank demo` walks through the public API,
`bank down` stops it all, `bank operator-token` prints a token for the operator RPCs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from services.cli import demo as demo_steps
from services.cli import dlq, gateway, health, kafka, operations, processes, registry, view
from services.cli import operator as operators
from services.cli.console import CliError, err, handles_errors, out
from services.cli.paths import Paths, env
from services.cli.processes import service_address
from services.cli.registry import SERVICES, ServiceSpec

app = typer.Typer(
    name="bank",
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

app.add_typer(operations.customers, name="customer")
app.add_typer(operations.members, name="member")
app.add_typer(operations.accounts, name="account")
app.add_typer(operations.outbox, name="outbox")
app.add_typer(dlq.dlq, name="dlq")
app.add_typer(view.view, name="view")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@app.callback()
def main(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Option(envvar="BANK_ROOT", help="Repository root (default: found from the package or cwd)."),
    ] = None,
    var_dir: Annotated[
        Path | None,
        typer.Option(
            envvar=["BANK_VAR_DIR", "VAR_DIR"],
            help="Logs (log/), PID files (run/) and databases of the services. Default: <root>/var.",
        ),
    ] = None,
) -> None:
    # Resolved lazily by each command, so a missing root is reported as a clean error, not at parse time.
    ctx.obj = (root, var_dir)


def get_paths(ctx: typer.Context) -> Paths:
    root, var_dir = ctx.obj
    return Paths.resolve(root, var_dir)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------- up


@app.command()
@handles_errors
def up(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service to be SERVING.")] = 60.0,
    no_kafka: Annotated[
        bool, typer.Option("--no-kafka", help="Do not start the local broker (use KAFKA_BOOTSTRAP_SERVERS).")
    ] = False,
    no_gateway: Annotated[
        bool, typer.Option("--no-gateway", help="Do not start the Envoy gateway (scripts/gateway.sh).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Start Kafka and every service (those already running are left alone), wait until all are SERVING,
    then start the gateway (GATEWAY_PORT, admin GATEWAY_ADMIN_PORT) in front of them."""
    paths = get_paths(ctx)
    if not no_kafka:
        with err.status("Starting Kafka (scripts/kafka-local.sh start; the first run downloads it)…"):
            kafka.start(paths)
        err.print(f"[green]✓[/] Kafka running at {kafka.bootstrap_servers()}", highlight=False)

    with processes.locked(paths):
        start_services(paths, SERVICES, timeout)
        if no_gateway:
            err.print("  gateway not started (--no-gateway)")
        else:
            with err.status("Starting the gateway (scripts/gateway.sh start)…"):
                where = gateway.start(paths, {spec.name: service_address(paths, spec) for spec in SERVICES})
            err.print(f"[green]✓[/] gateway ready at http://{where} (log {paths.log(gateway.NAME)})", highlight=False)

    rows = [status_row(paths, spec) for spec in SERVICES]
    if json_out:
        print_json(
            {
                "var_dir": str(paths.var),
                "kafka": kafka.bootstrap_servers(),
                "services": rows,
                "gateway": gateway.status(paths).as_dict(),
            }
        )
        return
    # Paths fold instead of being cut with "…": the log path is what an operator copies.
    table = Table("service", "gRPC address", "PID", "health", Column("log", overflow="fold"), title="bank is up")
    for row in rows:
        table.add_row(row["name"], row["address"], str(row["pid"]), row["health"], row["log"])
    out.print(table)
    front = gateway.status(paths)
    out.print(f"Gateway: {front.state} (http://{front.address})", highlight=False)
    out.print(f"Kafka: {kafka.bootstrap_servers()}    stop everything: bank down", highlight=False)


def start_services(paths: Paths, specs: Iterable[ServiceSpec], timeout: float) -> None:
    """Start each service of `specs` that is not running (a stale PID file is dropped; a port taken by another
    process is an error), then wait until every one of them is SERVING. The caller holds processes.locked."""
    specs = list(specs)
    started: dict[str, subprocess.Popen[bytes]] = {}
    for spec in specs:
        pid = processes.running_pid(paths, spec)
        if pid is not None:
            err.print(f"[green]✓[/] {spec.name} already running (pid {pid})", highlight=False)
            continue
        processes.forget(paths, spec)  # a stale PID file from a crash or a reboot
        address = spec.address()
        if processes.port_in_use(address):
            raise CliError(
                f"{spec.name}: {address} is already in use by another process "
                f"(set {spec.port_env} to a free port, or stop that process)"
            )
        process = processes.spawn(
            paths,
            spec,
            {
                # Absolute, so the service's database lands in this var directory whatever its cwd.
                "VAR_DIR": str(paths.var),
                spec.port_env: str(spec.port()),
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers(),
                # the service's Kafka principals' password files (kafka-local.sh made them)
                "KAFKA_CREDENTIALS_DIR": kafka.credentials_dir(),
                # the local gateway calls from loopback: its x-forwarded-for names the caller (member's throttle)
                "TRUSTED_PROXIES": env("TRUSTED_PROXIES", "127.0.0.1/32"),
            },
        )
        started[spec.name] = process
        err.print(f"  started {spec.name} (pid {process.pid}, log {paths.log(spec.name)})", highlight=False)
    wait_serving(paths, specs, started, timeout)


def wait_serving(
    paths: Paths, specs: Iterable[ServiceSpec], started: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    """Poll the health of `specs` until all answer SERVING. Fails at once if a process exits, or after
    `timeout` seconds, showing the end of the service's log."""
    pending = {spec.name: spec for spec in specs}
    channels = {name: health.channel(service_address(paths, spec)) for name, spec in pending.items()}
    last = dict.fromkeys(pending, health.UNREACHABLE)
    begin = time.monotonic()
    try:
        with err.status("") as line:
            while pending:
                elapsed = time.monotonic() - begin
                for name, spec in list(pending.items()):
                    process = started.get(name)
                    exited = process.poll() if process is not None else None
                    if exited is not None or processes.running_pid(paths, spec) is None:
                        processes.forget(paths, spec)
                        why = f"exited with code {exited}" if exited is not None else "is not running any more"
                        raise CliError(
                            f"{name} {why} before it was SERVING (log: {paths.log(name)})",
                            detail=log_tail(paths, name),
                        )
                    last[name] = health.check_on(channels[name], timeout=1.0)
                    if last[name] == health.SERVING:
                        del pending[name]
                        err.print(f"[green]✓[/] {name} SERVING after {elapsed:.1f} s", highlight=False)
                if not pending:
                    break
                if elapsed > timeout:
                    name = next(iter(pending))
                    raise CliError(
                        f"{name} not SERVING after {timeout:g} s (health: {last[name]}); it is still running: "
                        f"see {paths.log(name)}, stop it with `bank down`",
                        detail=log_tail(paths, name),
                    )
                waiting = ", ".join(f"{n}: {last[n]}" for n in pending)
                line.update(f"Waiting for SERVING ({elapsed:.0f}/{timeout:.0f} s) - {waiting}")
                time.sleep(0.2)
    finally:
        for chan in channels.values():
            chan.close()


def log_tail(paths: Paths, name: str) -> str:
    return f"--- last 20 lines of {paths.log(name)} ---\n{processes.tail(paths.log(name), 20)}\n---"


# -------------------------------------------------------------------------------------------------- down


@app.command()
@handles_errors
def down(
    ctx: typer.Context,
    keep_kafka: Annotated[bool, typer.Option("--keep-kafka", help="Leave the Kafka broker running.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait after SIGTERM before SIGKILL.")] = 20.0,
) -> None:
    """Stop the gateway, every service (SIGTERM, then SIGKILL after --timeout), then Kafka."""
    paths = get_paths(ctx)
    with processes.locked(paths):
        with err.status("Stopping the gateway (scripts/gateway.sh stop)…"):
            gateway.stop(paths)
        err.print("[green]✓[/] gateway stopped", highlight=False)
        stop_services(paths, reversed(SERVICES), timeout)  # the reverse of the start order: dependents first

    if keep_kafka:
        err.print("  Kafka left running (--keep-kafka)")
    else:
        with err.status("Stopping Kafka…"):
            kafka.stop(paths)
        err.print("[green]✓[/] Kafka stopped")


def stop_services(paths: Paths, specs: Iterable[ServiceSpec], timeout: float) -> None:
    """SIGTERM each running service of `specs` (never a PID that is not that service), SIGKILL those still
    running after `timeout` seconds, and forget their PID files. The caller holds processes.locked."""
    signalled: dict[int, ServiceSpec] = {}
    for spec in specs:
        pid = processes.read_pid(paths.pid(spec.name))
        if pid is None:
            processes.forget(paths, spec)
            err.print(f"  {spec.name}: not running", highlight=False)
        elif not processes.alive(pid):
            processes.forget(paths, spec)
            err.print(f"  {spec.name}: not running (removed a stale PID file for pid {pid})", highlight=False)
        elif not processes.signal_if_service(pid, spec, signal.SIGTERM):
            # The PID was reused by another program (e.g. after a reboot): never signal it.
            processes.forget(paths, spec)
            err.print(
                f"[yellow]  {spec.name}: pid {pid} is not {spec.module} (PID reused?); not signalled, "
                "removed the stale PID file[/]",
                highlight=False,
            )
        else:
            signalled[pid] = spec
            err.print(f"  {spec.name}: SIGTERM sent to pid {pid}", highlight=False)

    with err.status(f"Waiting for {len(signalled)} service(s) to stop (up to {timeout:.0f} s)…"):
        left = processes.wait_gone(list(signalled), timeout)
    for pid in left:
        err.print(f"[yellow]  {signalled[pid].name}: still running after {timeout:.0f} s; SIGKILL[/]")
        processes.signal_if_service(pid, signalled[pid], signal.SIGKILL)
    left = processes.wait_gone(left, 5.0)
    for pid, spec in signalled.items():
        if pid not in left:
            processes.forget(paths, spec)
            err.print(f"[green]✓[/] {spec.name} stopped", highlight=False)
    if left:
        raise CliError(f"could not stop pid(s) {', '.join(map(str, left))}")


# --------------------------------------------------------------------------------------- one service

ServiceName = Annotated[str, typer.Argument(help="customer, member, account or my_accounts", show_default=False)]


@app.command("stop")
@handles_errors
def stop_one(
    ctx: typer.Context,
    service: ServiceName,
    timeout: Annotated[float, typer.Option(help="Seconds to wait after SIGTERM before SIGKILL.")] = 20.0,
) -> None:
    """Stop one service (SIGTERM, then SIGKILL after --timeout); the others, the gateway and Kafka go on."""
    paths = get_paths(ctx)
    spec = registry.get(service)
    with processes.locked(paths):
        stop_services(paths, [spec], timeout)


@app.command()
@handles_errors
def restart(
    ctx: typer.Context,
    service: ServiceName,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for it to stop, then to be SERVING.")] = 60.0,
) -> None:
    """Stop one service if it runs and start it again, waiting until it is SERVING as `bank up` does (a new
    setting or a new version of its code takes effect; the gateway routes to it again once it is healthy)."""
    paths = get_paths(ctx)
    spec = registry.get(service)
    with processes.locked(paths):
        stop_services(paths, [spec], timeout)
        start_services(paths, [spec], timeout)


# ------------------------------------------------------------------------------------------------ status


def status_row(paths: Paths, spec: ServiceSpec) -> dict[str, Any]:
    pid = processes.running_pid(paths, spec)
    recorded = processes.read_pid(paths.pid(spec.name))
    address = service_address(paths, spec)
    return {
        "name": spec.name,
        "state": "running" if pid is not None else "stopped",
        "pid": pid,
        "address": address,
        # Probed even when stopped: something else answering on the port is worth knowing.
        "health": health.check(address, timeout=1.0),
        "log": str(paths.log(spec.name)),
        "note": f"stale PID file (pid {recorded})" if pid is None and recorded is not None else "",
    }


@app.command()
@handles_errors
def status(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Each service (running or stopped, PID, gRPC health), the gateway and Kafka."""
    paths = get_paths(ctx)
    rows = [status_row(paths, spec) for spec in SERVICES]
    front = gateway.status(paths)
    broker = kafka.status(paths)
    if json_out:
        print_json({"var_dir": str(paths.var), "services": rows, "gateway": front.as_dict(), "kafka": broker.as_dict()})
        return
    table = Table("service", "state", "PID", "gRPC address", "health", "note", title=f"bank ({paths.var})")
    for row in rows:
        state = "[green]running[/]" if row["state"] == "running" else "[red]stopped[/]"
        table.add_row(row["name"], state, str(row["pid"] or "-"), row["address"], row["health"], row["note"])
    state = {"running": "[green]running[/]", "stopped": "[red]stopped[/]"}.get(front.state, front.state)
    table.add_row("gateway", state, "-", front.address, "-", front.detail)
    out.print(table)
    out.print(f"Gateway log: {front.log}", highlight=False)
    out.print(f"Kafka: {broker.state} ({broker.detail})", highlight=False)


# -------------------------------------------------------------------------------------------------- demo


@app.command()
@handles_errors
def demo(
    ctx: typer.Context,
    rpc_timeout: Annotated[float, typer.Option(help="Deadline of each gRPC call, in seconds.")] = 5.0,
    event_timeout: Annotated[float, typer.Option(help="Seconds to wait for the events on Kafka.")] = 30.0,
    restart_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the account service to stop, then to be SERVING again.")
    ] = 60.0,
    json_out: JsonOption = False,
) -> None:
    """Walk a customer through its lifecycle, its banking member through logins and its accounts, over gRPC
    and REST through the gateway only; stop and restart the account service on the way (the account list
    still answers) and read the events back from Kafka. Non-zero exit if any answer is not the expected one."""
    paths = get_paths(ctx)
    for spec in SERVICES:
        address = service_address(paths, spec)
        state = health.check(address, timeout=1.0)
        if state != health.SERVING:
            raise CliError(f"the {spec.name} service at {address} is not SERVING ({state}); start it with `bank up`")
    front = gateway.status(paths)
    if front.state != "running":
        raise CliError(
            f"the gateway at {front.address} is not running ({front.detail or front.state}); the demo calls every "
            "service through it: start it with `bank up` (without --no-gateway)"
        )

    def stop(name: str) -> None:
        with processes.locked(paths):
            stop_services(paths, [registry.get(name)], restart_timeout)

    def start(name: str) -> None:
        with processes.locked(paths):
            start_services(paths, [registry.get(name)], restart_timeout)

    # With --json the steps still show, on stderr.
    console = err if json_out else out
    report, failure = demo_steps.run(
        demo_steps.Settings(
            gateway=front.address,
            bootstrap=kafka.bootstrap_servers(),
            rpc_timeout=rpc_timeout,
            event_timeout=event_timeout,
            operator_token=operators.operator_token(paths, "bank-demo"),
        ),
        demo_steps.Services(stop=stop, start=start),
        console,
    )
    if json_out:
        print_json(report.as_dict(ok=failure is None, error=str(failure) if failure else None))
    if failure is not None:
        raise failure
    console.print("\n[bold green]Demo passed:[/] every answer and event was the expected one.")


# ---------------------------------------------------------------------------------------- operator-token


@app.command("operator-token")
@handles_errors
def operator_token(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option(help="Operator name (sub), 1-64 of a-z 0-9 . _ -; default: the login name, else 'operator'."),
    ] = None,
    ttl: Annotated[int, typer.Option(min=1, max=3600, help="Lifetime in seconds.")] = 900,
) -> None:
    """Print a fresh operator token (ES256 JWT, iss bank-operator, aud bank-ops) for the operator RPCs (the
    customer lifecycle, EnrollMember, UnlockMember), signed with the operator keys of the var directory
    (made on first use). Only the token goes to stdout: TOKEN=$(bank operator-token)."""
    paths = get_paths(ctx)
    token = operators.operator_token(paths, name, ttl)
    sys.stdout.write(token + "\n")
    err.print(f"operator token valid {ttl} s; send it as the header 'authorization: Bearer <token>'", highlight=False)
