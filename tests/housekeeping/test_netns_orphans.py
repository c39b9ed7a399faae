"""Housekeeping with the ``netns`` compute driver: real namespaces, real veths.

An instance whose amphora row is gone is deleted (processes, namespace,
veths, folder); a namespace of ours that lost its folder is deleted once older
than the grace time; a ``hyd-`` namespace of another deployment is left alone.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.db.engine import Database
from hydria.drivers.compute.netns import NetnsCompute
from hydria.drivers.network import iproute, names
from hydria.drivers.network.netns import ManagementNet
from hydria.housekeeping.service import Housekeeper
from tests.support import netns_lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netns,
    pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2"),
]


@pytest.fixture
def compute(tmp_path: Path) -> Iterator[NetnsCompute]:
    tag = uuid.uuid4().hex[:4]
    mgmt = ManagementNet(f"hydbr-h{tag}", "10.249.7.0/24", "10.249.7.1")
    driver = NetnsCompute(tmp_path / "amphorae", mgmt)
    made: list[str] = []
    driver.made = made  # type: ignore[attr-defined]  # the test's namespaces, for cleanup
    try:
        mgmt.ensure()
        yield driver
    finally:
        for ns in made:
            netns_lab.kill_namespace(ns)
            iproute.delete_link("hym" + ns[4:])
        iproute.delete_link(mgmt.bridge)


def _instance(compute: NetnsCompute, *, folder: bool, on_bridge: bool = True) -> str:
    """A namespace with a process in it, as a crashed create or delete leaves one."""
    amp_id = str(uuid.uuid4())
    ns = names.namespace(amp_id)
    compute.made.append(ns)  # type: ignore[attr-defined]
    iproute.ensure_ns(ns)
    if on_bridge:
        compute.management.plug(amp_id, "10.249.7." + str(10 + len(compute.made)))  # type: ignore[attr-defined]
    if folder:
        compute.layout(amp_id).root.mkdir(parents=True)
        compute.layout(amp_id).boot_file.write_text("{}")
    subprocess.Popen(
        ["ip", "netns", "exec", ns, "sleep", "600"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return amp_id


def test_instances_without_a_row_and_stray_namespaces_go(
    compute: NetnsCompute, sqlite_db: Database
):
    no_row = _instance(compute, folder=True)
    stray = _instance(compute, folder=False)
    foreign = _instance(compute, folder=False, on_bridge=False)
    keeper = Housekeeper(sqlite_db, compute, stray_grace=3600)

    # within the grace time the stray stays; the row-less instance goes at once
    assert keeper.collect_orphans() == 1
    assert names.namespace(no_row) not in netns_lab.namespaces()
    assert not compute.layout(no_row).root.exists()
    assert not iproute.link_exists(names.host_mgmt_veth(no_row))
    assert names.namespace(stray) in netns_lab.namespaces()

    keeper.stray_grace = 0
    assert keeper.collect_orphans() == 1
    assert names.namespace(stray) not in netns_lab.namespaces()
    assert netns_lab.ns_pids(names.namespace(stray)) == []
    assert not iproute.link_exists(names.host_mgmt_veth(stray))
    # not on this deployment's management bridge: not ours to delete
    assert names.namespace(foreign) in netns_lab.namespaces()
    assert keeper.collect_orphans() == 0
