"""The README's reliability table, from the suites' own reports (var/reports/reliability.txt and fuzz.txt, as
the last `scripts/test.sh` left them): one row per proof, its name and what it measured.

    python -m tests.reliability.table            # print the markdown
    python -m tests.reliability.table --write    # replace the table between the README's markers
"""

from __future__ import annotations

import argparse
import re
import sys

from tests.reliability.report import REPORTS, ROOT

BEGIN, END = "<!-- reliability-table:begin -->", "<!-- reliability-table:end -->"
NAME = re.compile(r"^(?P<name>[^:]{3,60}?)(?: \((?P<what>[^)]*)\))?: (?P<rest>.*)$")


def rows(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("hypothesis "):  # one line per RPC: summed below
            continue
        match = NAME.match(line)
        name, rest = (match["name"], match["rest"]) if match else (line.split(" ", 1)[0], line)
        out.append((name.strip(), rest.strip()))
    return out


def hypothesis_total(text: str) -> tuple[str, str] | None:
    counts = [
        re.match(r"hypothesis \S+ @ \S+: (\d+) examples \((\d+) also over REST\), (\d+) refused", ln)
        for ln in text.splitlines()
    ]
    found = [c for c in counts if c]
    if not found:
        return None
    examples, rest, refused = (sum(int(c[i]) for c in found) for i in (1, 2, 3))
    return (
        "hypothesis (every RPC)",
        f"{examples} examples over {len(found)} RPCs ({rest} also over REST), {refused} refused, 0 faults",
    )


def table() -> str:
    found: list[tuple[str, str]] = []
    for name in ("reliability", "fuzz"):
        path = REPORTS / f"{name}.txt"
        if path.exists():
            text = path.read_text()
            found += rows(text)
            if (total := hypothesis_total(text)) is not None:
                found.append(total)
    lines = ["| proof | what the last run measured |", "|---|---|"]
    lines += [f"| {name} | {rest.replace('|', '/')} |" for name, rest in found]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the README's table")
    args = parser.parse_args(argv)
    rendered = table()
    if not args.write:
        print(rendered)
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + rendered + "\n" + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
