"""The event bus's principals and ACLs (adapters/outbound/kafka/security.py), applied to a running broker as
its super user, or printed.

python scripts/kafka_principals.py apply --bootstrap 127.0.0.1:9092 --credentials-dir var/kafka/credentials \
    [--prefix ""] [--prefix t1.] [--timeout 120]
python scripts/kafka_principals.py list     # principals and their ACLs (no secrets)

scripts/kafka-local.sh runs `apply` after every start. Passwords are generated into the credentials folder on
first use and never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from adapters.outbound.kafka.provisioning import provision  # noqa: E402
from adapters.outbound.kafka.security import PRINCIPALS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply", help="users, topics and ACLs, as the admin")
    apply.add_argument("--bootstrap", required=True)
    apply.add_argument("--credentials-dir", type=Path, required=True)
    apply.add_argument("--prefix", action="append", help="topic prefix of an environment (repeatable)")
    apply.add_argument("--timeout", type=float, default=120.0)
    apply.add_argument("--replication-factor", type=int, default=1)
    sub.add_parser("list", help="print the principals and their ACLs")
    args = parser.parse_args()
    if args.command == "list":
        for p in PRINCIPALS:
            print(f"User:{p.name}  ({p.purpose})")
            for g in p.grants():
                print(f"    {g.kind} {g.name}{'*' if g.prefixed else ''}: {', '.join(g.operations)}")
        return 0
    prefixes = tuple(dict.fromkeys(args.prefix or [""]))
    try:
        provision(args.bootstrap, args.credentials_dir, prefixes, args.timeout, args.replication_factor)
    except Exception as exc:  # noqa: BLE001 - one line, no traceback (and never a secret)
        print(f"[kafka-principals] failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"[kafka-principals] {len(PRINCIPALS)} principals, ACLs for {len(prefixes)} topic prefix(es)", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
