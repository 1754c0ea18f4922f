"""The atheris harness of the event decoders (tests/fuzz/atheris_decoders.py) in a subprocess: at least
10,000 executions (ATHERIS_RUNS for more) with only the runner's poison classification raised, exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.report import put

HARNESS = Path(__file__).with_name("atheris_decoders.py")
RUNS = int(os.environ.get("ATHERIS_RUNS", "10000"))


def test_event_decoders_survive_the_fuzzer(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(HARNESS), f"-atheris_runs={RUNS}", "-seed=1", f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    output = result.stderr + result.stdout
    assert result.returncode == 0, output[-4000:]
    done = re.search(r"Done (\d+) in", output)
    assert done and int(done.group(1)) >= RUNS, output[-2000:]
    coverage = re.findall(r"cov: (\d+)", output)
    put(
        "atheris",
        f"atheris event decoders: {done.group(1)} executions, 0 crashes, coverage {coverage[-1] if coverage else '?'}"
        f" edges, {time.monotonic() - started:.1f} s",
        "fuzz",
    )
