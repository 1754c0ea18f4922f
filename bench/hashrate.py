"""The baseline of (a): the raw verify rate of the member service's hasher (the same class,
`Argon2PasswordHasher`, the same profile, pool size and queue), in a process of its own with no RPC,
started pinned to the server core. It reads requests as JSON lines on stdin
(`{"kind": "closed", "load": 4, "seconds": 10, "warmup": 1}` or `{"kind": "open", "load": 40, ...}`) and
answers each with a JSON line: the window's Result summary and its latencies. CPU is its own (utime+stime over
the window). `python -m bench.hashrate PROFILE WORKERS QUEUE`"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from adapters.outbound.security.argon2_hasher import CHEAP, OWASP, Argon2PasswordHasher
from bench.method import closed_loop, open_loop

PROFILES = {"cheap": CHEAP, "owasp": OWASP}


async def main(profile: str, workers: int, queue: int) -> None:
    hasher = Argon2PasswordHasher(PROFILES[profile], workers=workers, queue_size=queue)
    password = "bench password 0123456789"  # noqa: S105 - a benchmark's own
    stored = await hasher.hash(password)

    async def verify() -> None:
        async with hasher.admit():
            if not await hasher.verify(stored, password):
                raise AssertionError("verify failed")

    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": True}), flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        request = json.loads(line)
        if request["kind"] == "closed":
            result = await closed_loop(
                verify, int(request["load"]), request["seconds"], [os.getpid()], request.get("warmup", 0.5)
            )
        else:
            result = await open_loop(
                verify, request["load"], request["seconds"], [os.getpid()], request.get("call_timeout", 10.0)
            )
        print(json.dumps({"summary": result.summary(), "latencies_ms": result.latencies_ms}), flush=True)
    hasher.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
