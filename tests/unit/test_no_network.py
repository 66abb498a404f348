"""The suite's own guard: any connection off this machine fails the test that makes it."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "address", [("203.0.113.7", 443), ("example.org", 80), ("::ffff:8.8.8.8", 53)]
)
def test_a_connection_off_the_machine_fails(address: tuple[str, int]) -> None:
    """Tests that socket.create_connection to a remote address raises before any packet leaves."""
    with pytest.raises(RuntimeError, match="tests make no network connections"):
        socket.create_connection(address, timeout=1)


def test_a_raw_socket_connect_and_connect_ex_fail() -> None:
    """Tests that socket.connect and connect_ex to a remote address raise, as urllib's would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match="tests make no network connections"):
            sock.connect(("198.51.100.1", 80))
        with pytest.raises(RuntimeError, match="tests make no network connections"):
            sock.connect_ex(("198.51.100.1", 80))
    with pytest.raises(RuntimeError, match="tests make no network connections"):
        urllib.request.urlopen("http://198.51.100.1/", timeout=1)


def test_loopback_and_unix_sockets_still_work(tmp_path: Path) -> None:
    """Tests that connections to 127.0.0.1 and to a Unix socket are allowed (Dagster uses them)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
