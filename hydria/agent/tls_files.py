"""Listener and pool TLS material inside the amphora (``PUT /1.0/tls``).

Each file is named by the SHA-256 of its content, so the controller's
configuration names exactly the bytes it checked, a new certificate is a new
file (and a new configuration: HAProxy reloads seamlessly onto it), and a
name that does not match its content is refused. Files are written 0600 in a
0700 folder with an atomic rename; the content is never logged. ``prune``
removes every file the running configuration no longer names: called after a
new configuration has loaded (so the last good one, which a failed reload
falls back to, never loses its files) and with nothing kept when the
configuration is deleted.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from hydria.core.private_files import write_private
from hydria.wire.agent_api import TLS_FILE_PATTERN

_NAME = re.compile(TLS_FILE_PATTERN)


class BadTlsFile(ValueError):
    """A name that is not a digest, or content that does not match it."""


def write(folder: Path, files: Mapping[str, str]) -> int:
    """Check every file first, then write each one that is not there yet."""
    checked: list[tuple[str, bytes]] = []
    for name, text in files.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(text, str):
            raise BadTlsFile(f"not a TLS material file name: {str(name)[:80]!r}")
        data = text.encode()
        if hashlib.sha256(data).hexdigest() != name[: -len(".pem")]:
            raise BadTlsFile(f"{name}: the content does not match its name")
        checked.append((name, data))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written = 0
    for name, data in checked:
        path = folder / name
        if path.exists():
            continue
        write_private(path, data)
        written += 1
    return written


def prune(folder: Path, *, keep_named_in: str = "") -> int:
    """Remove the files ``keep_named_in`` (a configuration's text) does not name."""
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.name not in keep_named_in or not _NAME.fullmatch(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
