"""Where the CLI writes, and how expected failures end a command: a clear message and an exit code, never a
traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

# Data (tables, JSON) goes to stdout; progress and errors go to stderr, so `--json` output stays parseable.
# soft_wrap: long lines (ids, messages) stay whole in CI logs instead of being cut at 80 columns.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """An expected failure: printed as one clear message, then the process exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1, detail: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.detail = detail


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a CliError raised anywhere inside a command into a message on stderr and a non-zero exit code.
    functools.wraps keeps the signature visible to typer (it follows __wrapped__)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as exc:
            if exc.detail:
                err.print(exc.detail, markup=False, highlight=False)
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
