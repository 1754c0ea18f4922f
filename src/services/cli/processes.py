"""Service processes by PID file: start one detached, tell whether a PID is still that service, stop it.

A PID file can outlive its process and the PID can be reused by an unrelated program, so nothing is ever
signalled before its command line shows it is the service the file names."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from services.cli.paths import Paths
from services.cli.registry import ServiceSpec


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def write_atomically(path: Path, text: str) -> None:
    # Write then rename: a reader never sees a half-written PID.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has exited; only its parent has not reaped it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): os.kill said it exists
    # The state letter follows the command name in parentheses, which may itself contain spaces or ')'.
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def cmdline(pid: int) -> list[str]:
    """The process's arguments, or [] if it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return []  # Linux: the process is gone
    except OSError:
        return []
    # No /proc (macOS): ask ps. Arguments are joined by spaces there, good enough for the check below.
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps from PATH, as any operator tool
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.split()


def is_service(pid: int, spec: ServiceSpec) -> bool:
    """The live process `pid` runs `python -m <spec.module>`: only then may the CLI signal it."""
    return alive(pid) and spec.module in cmdline(pid)


def running_pid(paths: Paths, spec: ServiceSpec) -> int | None:
    """The PID of the service started from this var directory, if it is running."""
    pid = read_pid(paths.pid(spec.name))
    return pid if pid is not None and is_service(pid, spec) else None


def forget(paths: Paths, spec: ServiceSpec) -> None:
    paths.pid(spec.name).unlink(missing_ok=True)
    paths.address(spec.name).unlink(missing_ok=True)


def port_in_use(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
            return True
    except OSError:
        return False  # refused, unreachable or unresolvable: the service itself will report a bad host


def spawn(paths: Paths, spec: ServiceSpec, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `python -m <module> serve` detached: its own session (a Ctrl-C or a closed terminal of the CLI
    does not reach it), stdin from /dev/null, output appended to its log; then record its PID and address."""
    env = {**os.environ, **overrides(paths, spec), **extra_env}
    with open(paths.log(spec.name), "ab") as log, open(os.devnull, "rb") as devnull:
        # A marker, so the log tail shown on failure is told apart from earlier runs' lines.
        log.write(f"--- bank up: starting {spec.module} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", spec.module, "serve"],
            cwd=paths.root,
            env=env,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    write_atomically(paths.pid(spec.name), f"{process.pid}\n")
    write_atomically(paths.address(spec.name), f"{spec.address()}\n")
    return process


def signal_if_service(pid: int, spec: ServiceSpec, sig: int) -> bool:
    """Send `sig` only if `pid` is still the service; True if sent."""
    if not is_service(pid, spec):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes are gone; the ones still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    remaining = [p for p in pids if alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [p for p in remaining if alive(p)]
    return remaining


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))  # the last 20 lines fit in 64 KiB unless lines are huge
            data = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    """One `bank up`/`bank down` at a time per var directory, so two of them never start a service twice."""
    paths.make_dirs()
    with open(paths.run_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def service_address(paths: Paths, spec: ServiceSpec) -> str:
    """A running service's address as recorded at start; otherwise where the environment says it would be."""
    if running_pid(paths, spec) is not None:
        try:
            recorded = paths.address(spec.name).read_text().strip()
        except FileNotFoundError:
            recorded = ""
        if recorded:
            return recorded
    return spec.address()


def overrides(paths: Paths, spec: ServiceSpec) -> dict[str, str]:
    """Settings the CLI itself chose for a service (`bank view rebuild`'s new database and group), kept in
    `run/<name>.env` so every later start uses them too."""
    try:
        lines = (paths.run_dir / f"{spec.name}.env").read_text().splitlines()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def save_overrides(paths: Paths, spec: ServiceSpec, values: dict[str, str]) -> None:
    merged = {**overrides(paths, spec), **values}
    write_atomically(paths.run_dir / f"{spec.name}.env", "".join(f"{k}={v}\n" for k, v in sorted(merged.items())))
