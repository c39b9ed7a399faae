"""Files only this service may read: the state folder, keys, the database.

Secrets are created 0600 in a 0700 folder, atomically (written beside and
renamed). A key found readable by group or others is refused at start, with
a message that names the file: it may already have leaked, and a service
that quietly used it would hide that.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("hydria.files")

_LOOSE = stat.S_IRWXG | stat.S_IRWXO


class InsecureFile(Exception):
    """A secret that others than its owner may read or change."""


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` 0700, or take group and others' access away from it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode
    if mode & _LOOSE:
        os.chmod(path, 0o700)
        log.warning("event=state_dir_tightened path=%s was=%o now=700", path, stat.S_IMODE(mode))


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def check_private(path: Path) -> None:
    """Raise ``InsecureFile`` if group or others may read or write ``path``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _LOOSE:
        raise InsecureFile(
            f"{path} is readable or writable by others than its owner "
            f"(mode {mode:04o}); refusing to use it: chmod 600 {path} (and "
            "replace the key if it may have leaked)"
        )


def read_private(path: Path) -> bytes:
    """The content of a secret file, refused unless only its owner may read it."""
    check_private(path)
    return path.read_bytes()


def create_private(path: Path) -> None:
    """Make sure ``path`` exists 0600 (an empty file if it did not), tightening an
    existing file: for the SQLite database, whose -wal and -journal files SQLite
    then creates with the same mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _LOOSE:
        os.chmod(path, 0o600)
        log.warning("event=file_tightened path=%s was=%04o now=0600", path, mode)
