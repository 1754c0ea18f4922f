"""Dead-letter topics: `bank dlq list` shows what each consumer group set aside (`<topic>.dlq.<group>`, with the
reason and the original place as headers); `bank dlq redrive` publishes those records again to their original
topic, unchanged (same key, payload and CloudEvents headers: a consumer that did apply the event after all
skips it by its ce_id), once: the redrive's own consumer group remembers what was redriven."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from services.cli import kafka
from services.cli.console import CliError, err, handles_errors, out

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
REDRIVE_GROUP = "bank-cli-dlq-redrive"
REDRIVEN_HEADER = "dlq-redriven-from"
dlq = typer.Typer(help="Dead-letter topics: list and redrive.")


@dataclass
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: str
    ce_type: str
    ce_id: str
    reason: str
    original: str  # topic[partition]@offset


def _admin() -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka.client())


def dead_letter_topics(prefix: str = "") -> list[str]:
    try:
        topics = _admin().list_topics(timeout=10).topics
    except Exception as exc:  # noqa: BLE001 - KafkaException and friends: one clear message
        raise CliError(f"Kafka at {kafka.bootstrap_servers()} does not answer: {exc}") from None
    return sorted(t for t in topics if ".dlq." in t and t.startswith(prefix))


def _consumer(group: str, commit: bool) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            **kafka.client(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            **({} if commit else {"session.timeout.ms": 6000}),
        }
    )


def _read(consumer: Any, topics: list[str], timeout: float, progress: Progress | None = None) -> list[Any]:
    """Every record from the consumer's position to the end of each partition (or until `timeout`)."""
    from confluent_kafka import KafkaError

    consumer.subscribe(topics)
    records, eof, assigned = [], set(), None
    deadline = time.monotonic() + timeout
    task = progress.add_task("reading dead letters", total=None) if progress else None
    while time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.5):
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add((msg.topic(), msg.partition()))
                continue
            records.append(msg)
            if progress is not None and task is not None:
                progress.update(task, advance=1)
        assigned = consumer.assignment() or assigned
        if assigned and {(tp.topic, tp.partition) for tp in assigned} <= eof:
            break
    return records


def _letter(msg: Any) -> DeadLetter:
    headers = {k: (v or b"").decode(errors="replace") for k, v in msg.headers() or []}
    original = (
        f"{headers.get('dlq-original-topic', '?')}[{headers.get('dlq-original-partition', '?')}]"
        f"@{headers.get('dlq-original-offset', '?')}"
    )
    return DeadLetter(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        (msg.key() or b"").decode(errors="replace"),
        headers.get("ce_type", ""),
        headers.get("ce_id", ""),
        headers.get("dlq-reason", ""),
        original,
    )


@dlq.command("list")
@handles_errors
def list_dead_letters(
    topic: Annotated[str, typer.Option(help="Only dead-letter topics starting with this.")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds to read for at most.")] = 30.0,
    json_out: JsonOption = False,
) -> None:
    """Every dead letter of every DLQ topic (read from the beginning; nothing is committed or changed)."""
    topics = dead_letter_topics(topic)
    letters: list[DeadLetter] = []
    if topics:
        consumer = _consumer(f"bank-cli-dlq-list-{uuid.uuid4()}", commit=False)
        try:
            with Progress(console=err, transient=True) as progress:
                letters = [_letter(m) for m in _read(consumer, topics, timeout, progress)]
        finally:
            consumer.close()
    if json_out:
        out.print_json(data={"topics": topics, "dead_letters": [asdict(d) for d in letters]})
        return
    if not topics:
        out.print("no dead-letter topics: nothing was ever set aside")
        return
    table = Table("dlq topic", "p@offset", "key", "ce_type", "ce_id", "reason", "original", title="dead letters")
    for d in letters:
        table.add_row(d.topic, f"{d.partition}@{d.offset}", d.key, d.ce_type, d.ce_id, d.reason, d.original)
    out.print(table)
    out.print(f"{len(letters)} dead letter(s) in {len(topics)} topic(s)")


@dlq.command("redrive")
@handles_errors
def redrive(
    topic: Annotated[str, typer.Argument(help="The dead-letter topic (`<topic>.dlq.<group>`).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be redriven; change nothing.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to read for at most.")] = 30.0,
    json_out: JsonOption = False,
) -> None:
    """Publish the dead letters not yet redriven back to their original topic (idempotent producer, acks=all),
    then remember them (this command's consumer group commits only after the broker acknowledged)."""
    from confluent_kafka import Producer

    if topic not in dead_letter_topics():
        raise CliError(f"no dead-letter topic {topic!r} (see `bank dlq list`)")
    original_topic = topic.split(".dlq.", 1)[0]
    consumer = _consumer(REDRIVE_GROUP, commit=True)
    redriven: list[DeadLetter] = []
    try:
        with Progress(console=err, transient=True) as progress:
            records = _read(consumer, [topic], timeout, progress)
        if dry_run:
            redriven = [_letter(m) for m in records]
        elif records:
            producer = Producer({**kafka.client(), "enable.idempotence": True, "acks": "all"})
            for msg in records:
                headers = [(k, v) for k, v in msg.headers() or [] if not k.startswith("dlq-")]
                headers.append((REDRIVEN_HEADER, f"{msg.topic()}[{msg.partition()}]@{msg.offset()}".encode()))
                producer.produce(original_topic, key=msg.key(), value=msg.value(), headers=headers)
            if producer.flush(30) != 0:
                raise CliError("Kafka did not acknowledge every redriven record; nothing marked, run it again")
            consumer.commit(asynchronous=False)  # marked only now: a failed run redrives again, never loses
            redriven = [_letter(m) for m in records]
    finally:
        consumer.close()
    if json_out:
        out.print_json(data={"topic": original_topic, "dry_run": dry_run, "redriven": [asdict(d) for d in redriven]})
        return
    verb = "would redrive" if dry_run else "redrove"
    out.print(f"{verb} {len(redriven)} dead letter(s) from {topic} to {original_topic}")
    for d in redriven:
        out.print(f"  {d.partition}@{d.offset} {d.ce_type} {d.ce_id} ({d.reason})", highlight=False)
