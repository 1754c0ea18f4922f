"""'Never' is None, not time 0 of the monotonic clock.

On Linux `time.monotonic()` counts from the boot: on a machine booted minutes ago a check like
`time.monotonic() - self._minted_at > 600` with `_minted_at = 0.0` is false, so the thing is never done (CI on a
new machine: the fuzz suite's operator token was the empty string). The helpers of adapters.common.intervals
run here with a clock that starts at 0, and a scan of the whole tree refuses the old spelling: a name or
attribute that is set to a number somewhere and subtracted from a monotonic reading elsewhere in that module."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from adapters.common.intervals import Every, Expiring

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("adapters", "domain", "src/services", "tests", "bench", "examples", "scripts")
CLOCK_CALLS = {"monotonic", "perf_counter", "monotonic_ns", "_clock", "clock"}


class FakeClock:
    """A monotonic clock that starts where a freshly booted machine's does."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_every_opens_on_the_first_call_even_at_boot() -> None:
    clock = FakeClock(0.0)
    gate = Every(600, clock)
    assert gate.wait() == 0.0
    assert gate.due()  # never opened: due, although 0 - 0 < 600
    assert not gate.due()
    clock.now = 599.9
    assert not gate.due()
    assert gate.wait() == pytest.approx(0.1)
    clock.now = 600.0
    assert gate.due()


def test_every_mark_starts_the_interval() -> None:
    clock = FakeClock(3.0)
    gate = Every(5, clock)
    gate.mark()
    assert gate.wait() == 5.0
    assert not gate.due()
    clock.now = 8.0
    assert gate.due()


def test_expiring_makes_the_value_at_boot_and_again_when_old() -> None:
    clock = FakeClock(1.0)
    made = []
    value = Expiring(lambda: made.append(clock.now) or f"token-{len(made)}", max_age=600, clock=clock)
    assert value.get() == "token-1"  # a cache that reads "never" as time 0 would hand out nothing here
    clock.now = 500.0
    assert value.get() == "token-1"
    clock.now = 601.5
    assert value.get() == "token-2"
    assert made == [1.0, 601.5]


def test_expiring_keeps_the_last_value_when_making_fails() -> None:
    clock = FakeClock(0.0)
    results = iter(["first"])

    def make() -> str:
        return next(results)

    value = Expiring(make, max_age=10, clock=clock)
    assert value.get() == "first"
    clock.now = 11
    with pytest.raises(StopIteration):
        value.get()
    assert value.last == "first"


def test_the_fuzz_world_mints_an_operator_token_on_a_machine_booted_a_minute_ago(monkeypatch) -> None:
    """The very helper that failed on the new machine, with time.monotonic() reading 60."""
    import adapters.common.intervals as intervals
    from tests.fuzz import world

    monkeypatch.setattr(intervals.time, "monotonic", lambda: 60.0)
    fixtures = world.Fixtures.__new__(world.Fixtures)
    minted = []
    monkeypatch.setattr(world, "operator_token", lambda var_dir: minted.append(var_dir) or "an-operator-token")
    fixtures.system = type("System", (), {"var_dir": "var"})()
    fixtures._operator = Expiring(fixtures._mint_operator_token, max_age=600)
    fixtures._tokens = {}
    fixtures.login = lambda banking_id: (f"access-{banking_id}", "refresh")
    assert fixtures.operator == "an-operator-token"
    assert fixtures.token("fuzz-main") == "access-fuzz-main"
    assert minted == ["var"]


def test_the_consumer_runner_checks_progress_at_once_after_boot(monkeypatch) -> None:
    """The runner's caught-up check (what tells readiness and freshness) runs on its first pass at boot."""
    import adapters.common.intervals as intervals
    from adapters.inbound.kafka.runner import KafkaConsumerRunner

    monkeypatch.setattr(intervals.time, "monotonic", lambda: 0.1)
    asked = []

    class Consumer:
        def assignment(self) -> list:
            asked.append("assignment")
            return []

    runner = KafkaConsumerRunner(Consumer(), None, "boot-test", ["boot.topic"], {}, uow=None)  # type: ignore[arg-type]
    asyncio.run(runner._report_caught_up())
    assert asked == ["assignment"]  # the check ran instead of waiting for a clock reading past the interval
    asyncio.run(runner._report_caught_up())
    assert asked == ["assignment"]  # and not again within the interval


def _numeric(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _reads_clock(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (_name(node.func) or "") in CLOCK_CALLS


def never_as_zero(source: str) -> list[tuple[int, str]]:
    """(line, name) of each `<clock reading> - name` where `name` is elsewhere in the module set to a number
    (directly, or as the first item of a tuple, e.g. a `.get(key, (0.0, ""))` default that is unpacked)."""
    tree = ast.parse(source)
    numeric: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if isinstance(value, ast.Call) and _name(value.func) == "get" and len(value.args) == 2:
                value = value.args[1]  # d.get(key, default): the default is what "never" reads as
            for target in targets:
                if _numeric(value) and _name(target):
                    numeric.add(_name(target) or "")
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                    for t, v in zip(target.elts, value.elts, strict=False):
                        if _numeric(v) and _name(t):
                            numeric.add(_name(t) or "")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and _reads_clock(node.left):
            name = _name(node.right)
            if name in numeric:
                found.append((node.lineno, name))
    return found


def test_the_scan_finds_the_old_spelling() -> None:
    """The scan can fail: the two shapes that broke CI on a new machine are found."""
    minted = (
        "class F:\n    def __init__(self):\n        self._at = 0.0\n"
        "    def f(self):\n        return time.monotonic() - self._at > 600\n"
    )
    cached = "def token(d, k):\n    at, t = d.get(k, (0.0, ''))\n    return time.monotonic() - at > 120\n"
    assert never_as_zero(minted) == [(5, "_at")]
    assert never_as_zero(cached) == [(3, "at")]
    assert never_as_zero("def f(last):\n    return time.monotonic() - last\n") == []


def test_no_module_treats_never_as_time_zero_of_the_monotonic_clock() -> None:
    offenders = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, name in never_as_zero(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert offenders == [], "use adapters.common.intervals (Every, Expiring): " + ", ".join(offenders)
