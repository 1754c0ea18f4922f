"""Where things are: the repository root (for scripts/ and as the services' working directory) and the var
directory holding the services' logs, PID files and databases."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from services.cli.console import CliError

KAFKA_SCRIPT = Path("scripts") / "kafka-local.sh"


def _is_root(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / KAFKA_SCRIPT).is_file()


def find_root(explicit: Path | None = None) -> Path:
    """The repository root: `explicit` if given; else where this package lives (an editable install points
    into the checkout, whatever the current directory); else the current directory or one of its parents."""
    if explicit is not None:
        root = explicit.resolve()
        if not _is_root(root):
            raise CliError(f"{root} is not the repository root (no pyproject.toml and {KAFKA_SCRIPT} there)")
        return root
    here = Path(__file__).resolve()
    cwd = Path.cwd().resolve()
    for candidate in [*here.parents, cwd, *cwd.parents]:
        if _is_root(candidate):
            return candidate
    raise CliError(f"cannot find the repository root (a folder with pyproject.toml and {KAFKA_SCRIPT}); use --root")


@dataclass(frozen=True)
class Paths:
    root: Path
    var: Path

    @classmethod
    def resolve(cls, root: Path | None, var: Path | None) -> Paths:
        found = find_root(root)
        # A relative --var-dir/BANK_VAR_DIR means relative to where the operator stands, as usual for paths.
        return cls(found, (var if var is not None else found / "var").expanduser().resolve())

    @property
    def kafka_script(self) -> Path:
        return self.root / KAFKA_SCRIPT

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def address(self, name: str) -> Path:
        """The gRPC address a running service was started with, so `status`, `demo` and `down` find it even
        when the port variable is no longer set in the operator's shell."""
        return self.run_dir / f"{name}.addr"

    def make_dirs(self) -> None:
        for folder in (self.var, self.log_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default
