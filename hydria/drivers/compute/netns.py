"""``netns`` compute: an amphora is an instance of its own on this host.

Each amphora is a network namespace ``hyd-<8 hex of its id>`` with one port on
the management bridge (plugged here, as Nova boots a VM on ``lb-mgmt-net``);
VIP and member ports are the network driver's. Inside it, ``unshare`` makes
fresh mount, PID and UTS namespaces and starts ``hydria.agent.instance`` as
PID 1, which names the host, starts sshd and the agent, and keeps them up.

The instance boots from its user data: ``boot.json`` in the amphora's folder
(its id, management address, controllers, heartbeat key, CA and its own
certificate, the ssh key it authorises and the ssh host key the controller
made for it), written 0600 before the instance starts. The folder is the
instance's disk; the bridges are all it shares with the host's network.

The start is detached (a session of its own, as the ``local`` driver's), so
a controller that crashes leaves the amphora serving. ``is_running`` is "does
an agent hold ``agent.lock``", as for ``local``. ``delete`` ends the instance
the way a hypervisor does: every process in the namespace is killed, then the
namespace goes and its veths with it, then the folder.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hydria.core.procs import lock_held, pid_alive
from hydria.drivers.network import iproute, names
from hydria.drivers.network.netns import ManagementNet
from hydria.wire.agent_api import AmphoraBoot, boot_to_json
from hydria.wire.amphora_layout import AmphoraLayout

log = logging.getLogger("hydria.compute.netns")


def ssh_host_key() -> tuple[str, str]:
    """A fresh ed25519 host key: (OpenSSH private text, public ``ssh-ed25519 ...``)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


def init_pid(ns: str) -> int | None:
    """Host pid of the amphora's PID 1 (the process that is pid 1 in its own view)."""
    for pid in iproute.ns_pids(ns):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == "1" and len(line.split()) > 2:
                return pid
    return None


class NetnsCompute:
    def __init__(
        self, root: Path, management: ManagementNet, *, known_hosts_dir: Path | None = None
    ) -> None:
        self.root = Path(root).resolve()  # the instance starts in /, not here
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.management = management
        self.known_hosts_dir = known_hosts_dir
        self._children: list[subprocess.Popen[bytes]] = []

    def layout(self, amphora_id: str) -> AmphoraLayout:
        return AmphoraLayout(self.root / amphora_id)

    def known_hosts(self, amphora_id: str) -> Path | None:
        """The file ``hydria amphora ssh`` trusts the amphora's host key from."""
        if self.known_hosts_dir is None:
            return None
        return self.known_hosts_dir / amphora_id

    # -- ComputeDriver ---------------------------------------------------------

    def create(self, boot: AmphoraBoot) -> str:
        ns = names.namespace(boot.amphora_id)
        layout = self.layout(boot.amphora_id)
        if self.is_running(boot.amphora_id):
            # asked again while it runs: the controller gave up on it; boot it afresh
            self._stop(ns, timeout=5)
        layout.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if boot.ssh_authorized_keys:
            private, public = ssh_host_key()
            boot = dataclasses.replace(boot, ssh_host_key=private)
            self._remember_host_key(boot, public)
        fd = os.open(layout.boot_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(boot_to_json(boot))
        iproute.ensure_ns(ns)
        self.management.plug(boot.amphora_id, boot.lb_network_ip)
        cmd = [
            "ip",
            "netns",
            "exec",
            ns,
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            sys.executable,
            "-P",  # the package installed, never a `hydria` folder where the controller runs
            "-m",
            "hydria.agent.instance",
            "--dir",
            str(layout.root),
        ]
        with open(layout.root / "console.log", "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                close_fds=True,
                cwd="/",  # as an instance boots: never the controller's folder
            )
        self._children = [p for p in self._children if p.poll() is None] + [proc]
        log.info("event=instance_started amphora=%s namespace=%s", boot.amphora_id, ns)
        return ns

    def is_running(self, amphora_id: str) -> bool:
        return lock_held(self.layout(amphora_id).agent_lock)

    def delete(self, amphora_id: str) -> None:
        ns = names.namespace(amphora_id)
        self._stop(ns, timeout=3)
        iproute.delete_ns(ns)
        for name in iproute.links():
            if name.startswith(
                (names.host_mgmt_veth(amphora_id), names.host_port_veth(amphora_id, ""))
            ):
                iproute.delete_link(name)
        shutil.rmtree(self.layout(amphora_id).root, ignore_errors=True)
        known = self.known_hosts(amphora_id)
        if known is not None:
            known.unlink(missing_ok=True)
        self._children = [p for p in self._children if p.poll() is None]
        log.info("event=instance_deleted amphora=%s namespace=%s", amphora_id, ns)

    def fence(self, amphora_id: str) -> None:
        """Cut a failed amphora off at once: its links go down, its processes die.

        A dead agent is not a dead instance: its kernel would still answer ARP
        for the VIP and reset connections, so nothing else happens before this.
        """
        ns = names.namespace(amphora_id)
        if not iproute.ns_exists(ns):
            return
        for name in iproute.links(ns):
            if name != "lo":
                iproute.ip("link", "set", name, "down", ns=ns, check=False)
        self._kill_all(ns)

    def list_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / "boot.json").exists())

    def stop_all(self) -> None:
        """Shut every instance down (the namespaces and ports stay, as a stopped VM's)."""
        for amp_id in self.list_ids():
            self._stop(names.namespace(amp_id), timeout=15)

    def delete_strays(self, older_than: float) -> list[str]:
        """``hyd-`` namespaces of ours without a folder (a delete cut short
        between the two), older than ``older_than`` seconds, deleted.

        Ours: its management veth is on our management bridge, so a namespace
        of another deployment on this host is left alone.
        """
        known = {names.namespace(i) for i in self.list_ids()}
        ours = {
            n
            for n, info in iproute.links().items()
            if n.startswith("hym") and info.get("master") == self.management.bridge
        }
        now = time.time()
        strays = [
            ns
            for ns in iproute.namespaces(names.NAMESPACE_PREFIX)
            if ns not in known
            and "hym" + ns[len(names.NAMESPACE_PREFIX) :] in ours
            and now - iproute.ns_created(ns) > older_than
        ]
        for ns in strays:
            self._stop(ns, timeout=3)
            iproute.delete_ns(ns)
            iproute.delete_link("hym" + ns[len(names.NAMESPACE_PREFIX) :])
            log.warning("event=stray_namespace_deleted namespace=%s", ns)
        return strays

    # -- helpers ---------------------------------------------------------------

    def _remember_host_key(self, boot: AmphoraBoot, public: str) -> None:
        path = self.known_hosts(boot.amphora_id)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(f"{boot.lb_network_ip} {public}\n")

    def _stop(self, ns: str, *, timeout: float) -> None:
        """SIGTERM to the instance's init (it stops HAProxy, agent and sshd), then kill."""
        pid = init_pid(ns)
        if pid is not None:
            _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._kill_all(ns)

    def _kill_all(self, ns: str) -> None:
        pids = iproute.ns_pids(ns)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            self._children = [p for p in self._children if p.poll() is None]
            time.sleep(0.01)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
