"""The my_accounts view (a CQRS read model fed by Kafka), for operators:

- `bank view reconcile`: the view against its source, the account service's events read from the beginning
  of `bank.account.events.v1`; every difference listed (missing, unknown, behind, different), exit code 1 if
  any remains after the settle time;
- `bank view rebuild`: a new view from the earliest offset, built beside the live one (blue/green): a
  projector with a new consumer group fills a new database (or, for a view on Redis, a new key prefix); once
  it has caught up, the service is restarted on it. The old database (or keys) is left in place. Nothing
  reads or writes a database directly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.cli import kafka, processes, registry
from services.cli import operator as operators
from services.cli.console import CliError, err, handles_errors, out
from services.cli.paths import Paths, env
from services.my_accounts.settings import DEFAULT_REDIS_PREFIX, REDIS_SCHEMES

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ACCOUNT_TOPIC = "bank.account.events.v1"
view = typer.Typer(help="The my_accounts view: reconcile it with its source, rebuild it from Kafka.")


def _paths(ctx: typer.Context) -> Paths:
    root, var_dir = ctx.find_root().obj
    return Paths.resolve(root, var_dir)


def topic(name: str) -> str:
    return env("KAFKA_TOPIC_PREFIX", "") + name


@dataclass(frozen=True)
class State:
    balance: int
    sequence: int
    closed: bool


# --------------------------------------------------------------------------------------------------- source
def source_accounts(timeout: float, progress: Progress) -> dict[str, State]:
    """Each account's latest state per the account service's events, read from the beginning (no commit)."""
    from confluent_kafka import Consumer, KafkaError
    from google.protobuf.message import DecodeError

    from bank.account.v1 import events_pb2

    consumer = Consumer(
        {
            **kafka.client(),
            "group.id": f"bank-cli-reconcile-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    states: dict[str, State] = {}
    task = progress.add_task("reading the account events", total=None)
    try:
        consumer.subscribe([topic(ACCOUNT_TOPIC)])
        eof: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(msg.partition())
                    continue
                progress.update(task, advance=1)
                ce_type = dict(msg.headers() or []).get("ce_type", b"").decode()
                cls = getattr(events_pb2, ce_type.rsplit(".", 1)[-1], None)
                if cls is None or not ce_type.startswith("bank.account.v1."):
                    continue
                try:
                    event = cls.FromString(msg.value() or b"")
                except DecodeError:
                    continue  # poison: the consumers set it aside too (`bank dlq list`)
                held = states.get(event.account_number, State(0, 0, False))
                if event.sequence <= held.sequence:
                    continue  # a duplicate or an older change (the relay publishes at least once)
                balance = event.balance if ce_type.endswith("BalanceChanged") else held.balance
                states[event.account_number] = State(balance, event.sequence, ce_type.endswith("AccountClosed"))
            assignment = consumer.assignment()
            if assignment and {tp.partition for tp in assignment} <= eof:
                return states
    finally:
        consumer.close()
    raise CliError(f"the account events were not read to their end within {timeout:.0f} s")


def service_tls_dir(paths: Paths) -> Path:
    """The local CA of the services the CLI runs (they get VAR_DIR=paths.var): services.runtime.service_tls."""
    return Path(env("SERVICE_TLS_DIR", str(paths.var / "keys" / "service-tls")))


def viewed_accounts(paths: Paths) -> dict[str, State]:
    """Every account of the view, page by page (ViewAdminService on my_accounts' internal port)."""
    from adapters.outbound.security.service_tls import MY_ACCOUNTS, OPERATOR, load_or_create
    from bank.my_accounts.v1 import my_accounts_service_pb2 as msgs
    from bank.my_accounts.v1.my_accounts_service_pb2_grpc import ViewAdminServiceStub

    address = f"{registry.get('my_accounts').address().rsplit(':', 1)[0]}:{env('MY_ACCOUNTS_INTERNAL_PORT', '50064')}"
    metadata = [operators.operator_metadata(operators.operator_token(paths, "bank-cli"))]
    states: dict[str, State] = {}
    token = ""
    # the internal port takes mutual TLS only: the CLI presents the operator's certificate of the local CA
    tls = load_or_create(service_tls_dir(paths), OPERATOR)
    options = [("grpc.ssl_target_name_override", MY_ACCOUNTS)]
    with grpc.secure_channel(address, tls.channel_credentials(), options=options) as channel:
        stub = ViewAdminServiceStub(channel)
        while True:
            try:
                page = stub.ListViewedAccounts(
                    msgs.ListViewedAccountsRequest(page_size=1000, page_token=token), timeout=10, metadata=metadata
                )
            except grpc.RpcError as exc:
                raise CliError(f"ListViewedAccounts at {address}: {exc.code().name}: {exc.details()}") from None
            for a in page.accounts:
                states[a.account_number] = State(a.balance, a.sequence, a.closed)
            token = page.next_page_token
            if not token:
                return states


@dataclass
class Difference:
    account_number: str
    kind: str  # missing (in the view), unknown (to the source), behind, different
    source: dict[str, Any] | None
    view: dict[str, Any] | None


def differences(source: dict[str, State], viewed: dict[str, State]) -> list[Difference]:
    found = []
    for number in sorted(source.keys() | viewed.keys()):
        s, v = source.get(number), viewed.get(number)
        if s == v:
            continue
        if v is None:
            kind = "missing"
        elif s is None:
            kind = "unknown"
        elif v.sequence < s.sequence:
            kind = "behind"
        else:
            kind = "different"
        found.append(Difference(number, kind, asdict(s) if s else None, asdict(v) if v else None))
    return found


@view.command("reconcile")
@handles_errors
def reconcile(
    ctx: typer.Context,
    settle: Annotated[float, typer.Option(help="Seconds to let a view that is behind catch up.")] = 10.0,
    timeout: Annotated[float, typer.Option(help="Seconds to read the events for at most.")] = 120.0,
    json_out: JsonOption = False,
) -> None:
    """Compare every account of the view with the account service's events; list the differences."""
    paths = _paths(ctx)
    with Progress(TextColumn("{task.description}"), TextColumn("{task.completed} events"), console=err) as progress:
        source = source_accounts(timeout, progress)
    deadline = time.monotonic() + settle
    while True:
        found = differences(source, viewed_accounts(paths))
        if not any(d.kind == "behind" for d in found) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if json_out:
        out.print_json(data={"accounts": len(source), "differences": [asdict(d) for d in found]})
    else:
        table = Table("account", "difference", "source", "view", title="view against source")
        for d in found:
            table.add_row(d.account_number, d.kind, str(d.source or "-"), str(d.view or "-"))
        if found:
            out.print(table)
        out.print(f"{len(source)} account(s) in the source, {len(found)} difference(s)")
    if found:
        raise CliError(f"{len(found)} difference(s) between the view and its source")


# ---------------------------------------------------------------------------------------------------- rebuild
def group_lag(group: str, topics: list[str]) -> tuple[int, int]:
    """(events not yet committed by `group`, all events) over every partition of `topics`."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**kafka.client(), "group.id": group})
    try:
        metadata = consumer.list_topics(timeout=10).topics
        partitions = [TopicPartition(t, p) for t in topics for p in (metadata[t].partitions if t in metadata else {})]
        committed = consumer.committed(partitions, timeout=10)
        lag = total = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
            total += high - low
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag, total
    finally:
        consumer.close()


@view.command("rebuild")
@handles_errors
def rebuild(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds the new view may take to catch up.")] = 600.0,
    json_out: JsonOption = False,
) -> None:
    """Build a new view from the earliest offset beside the live one, then switch the service to it."""
    from adapters.inbound.kafka.my_accounts import TOPICS
    from services.cli.main import start_services, stop_services  # the CLI's own way to (re)start a service

    paths = _paths(ctx)
    spec = registry.get("my_accounts")
    generation = time.strftime("%Y%m%d%H%M%S")
    overrides = {"MY_ACCOUNTS_KAFKA_GROUP_ID": f"my_accounts-{generation}"}
    current = {**os.environ, **processes.overrides(paths, spec)}  # the settings the service runs with
    view_url = current.get("MY_ACCOUNTS_VIEW_URL") or current.get("MY_ACCOUNTS_DATABASE_URL", "")
    if view_url.startswith(REDIS_SCHEMES):  # the view is on Redis: the new one under a key prefix of its own
        base = re.sub(r":gen-\d{14}$", "", current.get("MY_ACCOUNTS_REDIS_PREFIX", DEFAULT_REDIS_PREFIX))
        store, database = "redis", f"{base}:gen-{generation}"
        overrides["MY_ACCOUNTS_REDIS_PREFIX"] = database
    else:
        store, database = "sql", str(paths.var / f"my_accounts-{generation}.db")
        overrides["MY_ACCOUNTS_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    topics = [topic(t) for t in TOPICS]
    builder = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", spec.module, "projector"],
        cwd=paths.root,
        env={
            **os.environ,
            **processes.overrides(paths, spec),
            **overrides,
            "VAR_DIR": str(paths.var),
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers(),
            "KAFKA_CREDENTIALS_DIR": kafka.credentials_dir(),
        },
        stdout=open(paths.log(f"{spec.name}-rebuild"), "ab"),  # noqa: SIM115 - the child's log
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    group = overrides["MY_ACCOUNTS_KAFKA_GROUP_ID"]
    err.print(f"  building a new view in {database} (projector pid {builder.pid}, group {group})", highlight=False)
    try:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("replaying events into the new view", total=None)
            deadline = time.monotonic() + timeout
            while True:
                if builder.poll() is not None:
                    raise CliError(
                        f"the rebuilding projector exited with {builder.returncode}",
                        detail=processes.tail(paths.log(f"{spec.name}-rebuild")),
                    )
                lag, total = group_lag(group, topics)
                progress.update(task, total=total, completed=total - lag)
                if lag == 0:
                    break
                if time.monotonic() > deadline:
                    raise CliError(f"the new view did not catch up within {timeout:.0f} s ({lag} events behind)")
                time.sleep(0.5)
    finally:
        if builder.poll() is None:
            builder.send_signal(signal.SIGTERM)
            builder.wait(timeout=30)
    # Switch: the service restarts on the new database and group (recorded, so `bank up` keeps them).
    with processes.locked(paths):
        stop_services(paths, [spec], 30.0)
        processes.save_overrides(paths, spec, overrides)
        start_services(paths, [spec], 60.0)
    summary = {"store": store, "database": database, "group": group, "events": total}
    if json_out:
        out.print_json(data=summary)
    else:
        out.print(
            f"[green]✓[/] my_accounts now serves the rebuilt view ({total} events replayed into {database}); "
            f"the previous {'keys are' if store == 'redis' else 'database is'} left in place",
            highlight=False,
        )
