"""Which installed software a netns amphora binds back over its private /tmp and /home.

The instance hides the host's ``/tmp`` and ``/home`` behind tmpfs mounts before
it starts the agent; a Python or a checkout living there (a test run's clone
under /tmp, an operator's virtualenv in a home folder) would be gone, and every
amphora would fail to boot. The live half is ``tests/e2e/test_netns.py`` run
from such a checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hydria.agent import instance


def test_a_venv_and_a_checkout_under_tmp_or_home_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "prefix", "/home/ops/venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    monkeypatch.setattr(instance, "__file__", "/tmp/clone/hydria/agent/instance.py")
    assert instance.software() == [Path("/home/ops/venv"), Path("/tmp/clone")]


def test_software_elsewhere_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "prefix", "/opt/hydria")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    monkeypatch.setattr(instance, "__file__", "/opt/hydria/lib/hydria/agent/instance.py")
    assert instance.software() == []
