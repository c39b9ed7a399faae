"""Encryption at rest for the embedded secret store.

Every payload is sealed with AES-256-GCM under the deployment's secret-store
key, with the secret's id as associated data: a ciphertext copied onto another
row does not open. A sealed blob is ``version (1 byte) | nonce (12) |
ciphertext+tag``. The key is 32 random bytes, base64 in a file of the state
folder (``<state_dir>/secrets.key`` by default), created 0600 on first use and
refused if others may read it; it is never logged.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hydria.core.private_files import ensure_private_dir, read_private, write_private
from hydria.core.secrets import SecretStoreUnavailable

KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12


class SecretKeyError(SecretStoreUnavailable):
    """The key file is unreadable, malformed, or open to others, or a stored payload
    does not open with it (another deployment's key): the store is unavailable, which
    the API answers with a 503, never the material."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret-store key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:  # never show the key
        return "SecretBox(<key>)"

    def seal(self, secret_id: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(secret_id))

    def open(self, secret_id: str, blob: bytes) -> bytes:
        """The plaintext; ``SecretKeyError`` if the blob is not ours (other key, other row)."""
        if len(blob) < 1 + _NONCE_BYTES or blob[:1] != _VERSION:
            raise SecretKeyError("stored secret has an unknown format")
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _aad(secret_id))
        except InvalidTag:
            raise SecretKeyError("stored secret does not open with this key") from None


def _aad(secret_id: str) -> bytes:
    return b"hydria secret v1:" + secret_id.encode()


def load_or_create_key(path: Path, *, create: bool = True) -> bytes:
    """The key in ``path``; made (0600, in a 0700 folder) if missing and ``create``."""
    if not path.exists():
        if not create:
            raise SecretKeyError(f"no secret-store key at {path}")
        ensure_private_dir(path.parent)
        write_private(path, base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
    try:
        raw = read_private(path)
    except Exception as exc:  # InsecureFile, or unreadable
        raise SecretKeyError(str(exc)) from None
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except binascii.Error:
        raise SecretKeyError(f"{path} does not hold a base64 key") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return key
