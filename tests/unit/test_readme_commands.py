"""The README's commands work as written: the CLI is called as `.venv/bin/bank` (where scripts/up.sh installs it;
the README once said plain `bank`, which no script puts on PATH), and every `bank` command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from services.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def command_lines() -> list[str]:
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def shown_commands(line: str) -> list[tuple[str, ...]]:
    """The command paths of one `.venv/bin/bank ...` line: `up | status` is two commands, `customer register X
    | show` is customer register and customer show."""
    words = re.sub(r"[)\"'`]", " ", line.split("#", 1)[0]).split()[1:]  # `$(.venv/bin/bank x)` ends in ")"
    cli = typer.main.get_command(app)
    if not words or words[0] not in cli.commands:  # type: ignore[attr-defined]
        return [tuple(words[:1])]
    group = cli.commands[words[0]]  # type: ignore[attr-defined]
    alternatives = " ".join(words).split("|")
    if not hasattr(group, "commands"):
        return [(a.split()[0],) for a in alternatives]
    first = tuple(alternatives[0].split()[:2])
    return [first, *((words[0], a.split()[0]) for a in alternatives[1:])]


def exists(path: tuple[str, ...]) -> bool:
    node = typer.main.get_command(app)
    for name in path:
        commands = getattr(node, "commands", {})
        if name not in commands:
            return False
        node = commands[name]
    return True


def test_the_cli_is_always_called_where_it_is_installed() -> None:
    bare = [line for line in command_lines() if re.match(r"^(\S+=\S+\s+)*bank\s", line)]
    assert bare == [], "call the CLI as .venv/bin/bank (scripts/up.sh puts it there, not on PATH)"


def test_every_cli_command_the_readme_shows_exists() -> None:
    lines = [line for line in command_lines() if ".venv/bin/bank" in line.split("#", 1)[0]]
    assert len(lines) >= 10
    missing = []
    for line in lines:
        invocation = line[line.index(".venv/bin/bank") :]
        missing += [" ".join(path) for path in shown_commands(invocation) if not exists(path)]
    assert missing == []
