"""The agent's TLS material folder: names are digests of the content, files 0600,
pruned to what a configuration names."""

from __future__ import annotations

import hashlib
import stat

import pytest

from hydria.agent import tls_files


def named(text: str) -> tuple[str, str]:
    return hashlib.sha256(text.encode()).hexdigest() + ".pem", text


def test_write_check_and_prune(tmp_path):
    folder = tmp_path / "certs"
    a, b = named("A"), named("B")
    assert tls_files.write(folder, dict([a, b])) == 2
    assert tls_files.write(folder, dict([a])) == 0  # already there
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert tls_files.prune(folder, keep_named_in=f"bind x ssl crt {folder}/{a[0]}") == 1
    assert [p.name for p in folder.iterdir()] == [a[0]]
    assert tls_files.prune(folder) == 1 and not list(folder.iterdir())


@pytest.mark.parametrize(
    "files",
    [
        {"../x.pem": "A"},
        {"a" * 64 + ".pem": "not matching"},
        {hashlib.sha256(b"A").hexdigest() + ".key": "A"},
    ],
)
def test_bad_names_or_content_are_refused_before_anything_is_written(tmp_path, files):
    good = dict([named("G")])
    with pytest.raises(tls_files.BadTlsFile):
        tls_files.write(tmp_path / "certs", {**good, **files})
    assert not (tmp_path / "certs").exists()
