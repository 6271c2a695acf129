"""sd_notify: the datagrams systemd would receive, read from a real AF_UNIX socket."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from optimizer.daemon.notify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def _recv_all(sock: socket.socket) -> list[str]:
    out = []
    sock.settimeout(0.2)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    return out


def test_ready_status_and_watchdog_are_sent_to_notify_socket(notify_socket) -> None:
    """READY=1 is sent once, STATUS lines are single-line, WATCHDOG=1 only with WATCHDOG_USEC."""
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    assert n.enabled and n.watchdog is not None and n.watchdog.total_seconds() == 30
    n.status("tick 1:\nrunning")
    n.ready("tick 1 ok")
    n.ready("tick 2 ok")  # READY only once; later calls are status updates
    n.ping()
    n.stopping("bye")
    n.close()
    msgs = _recv_all(sock)
    assert msgs == [
        "STATUS=tick 1: running",
        "READY=1\nSTATUS=tick 1 ok",
        "STATUS=tick 2 ok",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=bye",
    ]


def test_no_watchdog_pings_without_watchdog_usec(notify_socket) -> None:
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    n.ping()
    n.status("x")
    n.close()
    assert _recv_all(sock) == ["STATUS=x"]


def test_watchdog_for_another_pid_is_ignored(notify_socket) -> None:
    path, _ = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert n.watchdog is None or os.getpid() == 1


def test_abstract_namespace_socket_is_supported() -> None:
    name = f"fo-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        n.ready()
        n.close()
        sock.settimeout(2)
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled
    n.ready("x")
    n.ping()
    n.stopping()


def test_unreachable_socket_never_raises(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing.sock")})
    n.ready("x")  # the service manager is a listener, never a dependency
    n.status("y")
    n.close()


def test_watchdog_pings_are_throttled_to_a_quarter_of_the_period(notify_socket) -> None:
    """The loop may call ping() every second; systemd needs one per WatchdogSec/2 at most."""
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000000"})  # 10 min
    for _ in range(5):
        n.ping()
    n.close()
    assert _recv_all(sock) == ["WATCHDOG=1"]
