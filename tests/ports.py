"""Ports for the processes the tests and benchmarks start on loopback.

Not port 0's pick: the kernel hands out the same ephemeral range (net.ipv4.ip_local_port_range, 32768-60999
here) to outgoing connections, so a port picked there, closed, and bound by a service a moment later can be
taken meanwhile by the client side of a connection to Kafka or PostgreSQL (a service then failed to start with
"address in use"). These come from below that range, are checked to be free, and are not handed out twice by
one process."""

from __future__ import annotations

import os
import random
import socket

LOW, HIGH = 20000, 32000
_handed_out: set[int] = set()
_random = random.Random(os.getpid())  # different pytest sessions (and xdist workers) start at different places


def free_port() -> int:
    for _ in range(1000):
        port = _random.randint(LOW, HIGH)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
