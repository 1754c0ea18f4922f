"""The fault proxy does what the fault tests rely on, against an echo server: it passes data, adds latency,
resets open connections with an RST, refuses new ones, and holds data during a partition until it heals."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.reliability.proxy import TcpProxy, proxy_to


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # the proxy resets it on purpose
            while data := self.request.recv(65536):
                self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with proxy_to("127.0.0.1", server.server_address[1]) as p:
            yield p
    finally:
        server.shutdown()
        server.server_close()


def connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=3)


def echo(conn: socket.socket, payload: bytes = b"ping") -> bytes:
    conn.sendall(payload)
    return conn.recv(1024)


def test_passes_and_adds_latency(proxy: TcpProxy) -> None:
    with connect(proxy) as conn:
        assert echo(conn) == b"ping"
        proxy.latency = 0.1
        started = time.monotonic()
        assert echo(conn) == b"ping"
        assert time.monotonic() - started >= 0.2  # each way


def cut(conn: socket.socket) -> bool:
    """Whether the connection was cut: an RST on the write or the read, or an empty read."""
    try:
        return echo(conn) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_reset_aborts_open_connections_and_refuse_turns_new_ones_away(proxy: TcpProxy) -> None:
    with connect(proxy) as conn:
        assert echo(conn) == b"ping"
        proxy.reset()
        assert cut(conn)
    proxy.mode = "refuse"
    try:
        with connect(proxy) as conn:
            assert cut(conn)
    except ConnectionResetError:
        pass  # reset before the handshake was even returned
    proxy.mode = "pass"
    with connect(proxy) as conn:
        assert echo(conn) == b"ping"


def test_a_partition_holds_data_until_it_heals(proxy: TcpProxy) -> None:
    with connect(proxy) as conn:
        assert echo(conn) == b"ping"
        proxy.partition()
        conn.sendall(b"held")
        conn.settimeout(0.5)
        with pytest.raises(TimeoutError):
            conn.recv(1024)  # nothing comes back, and no RST either
        proxy.heal()
        conn.settimeout(3)
        assert conn.recv(1024) == b"held"
