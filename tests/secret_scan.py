"""The scan after the suite: no password, argon2 hash, JWT, refresh token, private key or SQL error text in any
service log
(the last pytest run's temporary directory and var/, key stores and databases excepted: keys and hashes live there by
design), in the Kafka records the tests wrote (a sample of every topic: values and headers), or in the error
messages the fuzz tests received. It looks for the exact secrets the tests used (tests/used_secrets.py) and
for generic patterns.

    python -m tests.secret_scan [--kafka 127.0.0.1:9092] [--prefix t] [--report] [PATH ...]   # exit 1 on a finding
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.used_secrets import FILE as USED_FILE
from tests.used_secrets import used

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = {
    "argon2 hash": re.compile(rb"\$argon2(id|i|d)\$"),
    "JWT": re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
    "private key": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password field with a value": re.compile(rb"\"(password|current_?[pP]assword|new_?[pP]assword)\"\s*:\s*\"[^\"]+"),
    # a database error's own text (SQLAlchemy's rendering of it): statements, parameters
    "SQL in an error": re.compile(rb"\[SQL: |\[parameters: |sqlalche\.me/e/"),
}
LOG_SUFFIXES = {".log", ".out", ".err", ".txt", ".jsonl"}
SKIP_DIRS = {"keys", "test-secrets", "node_modules", ".git"}


@dataclass
class Scan:
    secrets: set[str]
    findings: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    records: int = 0
    messages: int = 0

    def check(self, where: str, data: bytes) -> None:
        self.bytes += len(data)
        for name, pattern in PATTERNS.items():
            if match := pattern.search(data):
                self.findings.append(f"{where}: {name} ({match.group(0)[:12]!r}...)")
        for secret in self.secrets:
            if secret.encode() in data:
                self.findings.append(f"{where}: a secret the tests used ({secret[:4]}...)")

    def summary(self) -> str:
        return (
            f"secret scan: {len(self.secrets)} exact secrets + {len(PATTERNS)} patterns over {self.files} log files"
            f" ({self.bytes // 1024} KiB), {self.records} Kafka records, {self.messages} error messages:"
            f" {len(self.findings)} findings"
        )


def kafka_passwords() -> set[str]:
    """The event bus's passwords (one file per principal, kafka-local.sh's credentials folder): never in a log
    line, the broker's own included."""
    from tests.kafka_auth import credentials_dir

    try:
        folder = credentials_dir()
    except (OSError, subprocess.CalledProcessError, KeyError):  # no local broker set up: nothing to look for
        return set()
    return {p.read_text().strip() for p in folder.glob("*/password") if len(p.read_text().strip()) >= 8}


def log_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            wanted = path.suffix in LOG_SUFFIXES and not (SKIP_DIRS | {"reports"}) & set(path.parts)
            if wanted and path.is_file() and path.resolve() != USED_FILE.resolve():
                yield path


def scan_files(scan: Scan, roots: Iterable[Path]) -> None:
    for path in log_files(roots):
        scan.files += 1
        scan.check(str(path), path.read_bytes())


def scan_kafka(
    scan: Scan, bootstrap: str, prefixes: tuple[str, ...] = ("",), per_partition: int = 500, seconds: float = 60.0
) -> None:
    """Reads up to `per_partition` records of each partition of every topic whose name starts with a prefix: all
    partitions assigned at once (one fetch session, not one per partition), for at most `seconds`."""
    from confluent_kafka import Consumer, TopicPartition

    from tests.kafka_auth import admin  # the scan reads every topic: as the broker's super user

    consumer = Consumer({**admin(bootstrap), "group.id": "secret-scan", "enable.auto.commit": False})
    try:
        ends: dict[tuple[str, int], int] = {}
        starts = []
        for name, metadata in consumer.list_topics(timeout=10).topics.items():
            if name.startswith("__") or not name.startswith(prefixes):
                continue
            for partition in metadata.partitions:
                low, high = _watermarks(consumer, TopicPartition(name, partition))
                if high > low:
                    ends[(name, partition)] = min(high, low + per_partition)  # [low, end): markers not waited for
                    starts.append(TopicPartition(name, partition, low))
        if not starts:
            return
        consumer.assign(starts)
        deadline = time.monotonic() + seconds
        idle = 0
        while ends and time.monotonic() < deadline and idle < 3:
            batch = consumer.consume(1000, timeout=1)
            idle = 0 if batch else idle + 1
            for record in batch:
                key = (record.topic(), record.partition())
                if record.error() is not None or key not in ends:
                    continue
                if record.offset() >= ends[key]:
                    del ends[key]
                    continue
                scan.records += 1
                headers = b"\n".join(k.encode() + b"=" + (v or b"") for k, v in record.headers() or [])
                scan.check(f"kafka {key[0]}[{key[1]}]@{record.offset()}", (record.value() or b"") + headers)
                if record.offset() + 1 >= ends[key]:
                    del ends[key]
    finally:
        consumer.close()


def _watermarks(consumer: object, partition: object) -> tuple[int, int]:
    """The partition's offsets, asked again while its leader is being elected (a broker just restarted)."""
    from confluent_kafka import KafkaException

    for attempt in range(10):
        try:
            return consumer.get_watermark_offsets(partition, timeout=10)  # type: ignore[attr-defined]
        except KafkaException:
            if attempt == 9:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def scan_messages(scan: Scan, messages: Iterable[str]) -> None:
    for message in messages:
        scan.messages += 1
        scan.check("error message", message.encode("utf-8", "replace"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="where the logs are (default: var/, pytest-current)")
    parser.add_argument("--kafka", help="bootstrap servers: sample the topics too")
    parser.add_argument("--prefix", action="append", default=[], help="only topics starting with this")
    parser.add_argument("--report", action="store_true", help="also put the summary in var/reports/fuzz.txt")
    args = parser.parse_args(argv)
    roots = args.paths or [ROOT / "var", Path("/tmp") / f"pytest-of-{_user()}" / "pytest-current"]
    scan = Scan(used() | kafka_passwords())
    scan_files(scan, roots)
    if args.kafka:
        scan_kafka(scan, args.kafka, tuple(args.prefix) or ("",))
    summary = scan.summary().replace("secret scan:", "secret scan (after the suite):")
    if args.report:
        from tests.reliability.report import put

        put("secret scan (after the suite)", summary, "fuzz")
    else:
        print(summary)
    for finding in scan.findings[:50]:
        print("  " + finding)
    return 1 if scan.findings else 0


def _user() -> str:
    import getpass

    return getpass.getuser()


if __name__ == "__main__":
    sys.exit(main())
