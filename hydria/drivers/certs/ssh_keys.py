"""The amphora ssh key pair operators log into amphorae with (Octavia's
``amp_ssh_key_name``): made on first use, private half 0600, never shipped
anywhere but its public half into each amphora's user data."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def public_key_of(private_path: Path) -> str:
    """``<private>.pub`` if it is there, else derived from the private key."""
    pub = private_path.with_name(private_path.name + ".pub")
    if pub.exists():
        return pub.read_text().strip()
    key = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def ensure_key_pair(private_path: Path, comment: str = "hydria-amphora") -> str:
    """Make an ed25519 pair at ``private_path`` (0600) unless one is there; its public key."""
    if private_path.exists():
        return public_key_of(private_path)
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    tmp = private_path.with_name(private_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(text)
    private_path.with_name(private_path.name + ".pub").write_text(f"{public} {comment}\n")
    tmp.replace(private_path)  # last: a pair is complete once the private key is there
    return f"{public} {comment}"
