"""The amphora's local flow log: HAProxy's datagrams into a rotating file, in batches.

HAProxy sends a datagram per request, so the receiver is on every request's path:
these tests hold it to writing every waiting line with one write, in order, and
to rotating as ``logging``'s handler did (``haproxy.log.1`` the newest old file).
"""

from __future__ import annotations

import socket
import stat
import threading
from pathlib import Path

from hydria.agent.logs import LocalLogReceiver, RotatingFile
from tests.support.wait import wait_for


def _sender(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.connect(str(path))
    return sock


def test_rotating_file_appends_and_rotates_like_the_logging_handler(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "haproxy.log"
    f = RotatingFile(log, max_bytes=10, backups=2)
    f.write(b"aaaa\n")
    f.write(b"bbb\n")  # 9 bytes: still the one file
    assert log.read_bytes() == b"aaaa\nbbb\n"
    f.write(b"cccc\n")  # would reach max_bytes: the old file becomes haproxy.log.1
    assert log.read_bytes() == b"cccc\n"
    assert (tmp_path / "logs" / "haproxy.log.1").read_bytes() == b"aaaa\nbbb\n"
    f.write(b"d" * 12 + b"\n")  # a batch longer than max_bytes stays whole
    f.write(b"eeee\n")
    f.close()
    assert log.read_bytes() == b"eeee\n"
    assert (tmp_path / "logs" / "haproxy.log.1").read_bytes() == b"d" * 12 + b"\n"
    assert (tmp_path / "logs" / "haproxy.log.2").read_bytes() == b"cccc\n"
    assert not (tmp_path / "logs" / "haproxy.log.3").exists()  # two backups kept
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700


def test_rotating_file_appends_to_what_an_earlier_agent_wrote(tmp_path: Path) -> None:
    log = tmp_path / "haproxy.log"
    log.write_bytes(b"before restart\n")
    f = RotatingFile(log, max_bytes=20, backups=1)
    f.write(b"after restart\n")  # 15 + 14 bytes > 20: rotates, counting the old bytes
    f.close()
    assert log.read_bytes() == b"after restart\n"
    assert (tmp_path / "haproxy.log.1").read_bytes() == b"before restart\n"


def test_every_datagram_is_one_line_in_order(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "haproxy.log"
    receiver = LocalLogReceiver(tmp_path / "log.sock", log)
    try:
        assert stat.S_IMODE((tmp_path / "log.sock").stat().st_mode) == 0o600
        with _sender(tmp_path / "log.sock") as out:
            for i in range(300):  # a blocking sender: the receiver's queue never drops
                out.send(f"<134>request {i}".encode() + (b"\n" if i % 2 else b""))
        want = [f"<134>request {i}" for i in range(300)]
        wait_for(
            lambda: log.exists() and log.read_text().splitlines() == want,
            what="300 lines in haproxy.log",
            details=lambda: log.read_text()[-500:] if log.exists() else "no file",
        )
    finally:
        receiver.close()
    assert not (tmp_path / "log.sock").exists()


class _HeldFile(RotatingFile):
    """Records every write; the first one waits until the test lets it go."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[bytes] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        if len(self.writes) == 1:
            self.entered.set()
            self.release.wait()
        super().write(data)


def test_the_lines_that_wait_are_written_with_one_write(tmp_path: Path) -> None:
    held = _HeldFile(tmp_path / "haproxy.log")
    receiver = LocalLogReceiver(tmp_path / "log.sock", held)
    try:
        with _sender(tmp_path / "log.sock") as out:
            out.send(b"first")
            assert held.entered.wait(30), "the receiver never wrote the first line"
            for i in range(8):  # queued while the receiver is busy writing
                out.send(f"waiting {i}".encode())
            held.release.set()
            wait_for(lambda: len(held.writes) >= 2, what="a second write")
        assert held.writes[0] == b"first\n"
        assert held.writes[1] == b"".join(f"waiting {i}\n".encode() for i in range(8))
    finally:
        held.release.set()
        receiver.close()


class _FullDisk(RotatingFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.full = True

    def write(self, data: bytes) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        super().write(data)


def test_a_write_that_fails_loses_its_lines_not_the_receiver(tmp_path: Path) -> None:
    disk = _FullDisk(tmp_path / "haproxy.log")
    receiver = LocalLogReceiver(tmp_path / "log.sock", disk)
    try:
        with _sender(tmp_path / "log.sock") as out:
            out.send(b"lost")
            wait_for(lambda: receiver.lost == 1, what="the line counted as lost")
            disk.full = False
            out.send(b"kept")
            wait_for(
                lambda: (tmp_path / "haproxy.log").read_bytes() == b"kept\n",
                what="the next line written",
            )
    finally:
        receiver.close()
