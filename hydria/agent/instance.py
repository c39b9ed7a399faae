"""``python -m hydria.agent.instance --dir FOLDER``: the first process of an
amphora that is an instance of its own (the ``netns`` compute driver).

The driver starts it inside the amphora's network namespace with fresh mount,
PID and UTS namespaces (``unshare``), so it is PID 1 there, as an instance's
init is. Like cloud-init and systemd on an Octavia amphora it:

- names the host ``amphora-<uuid>`` from the user data (``boot.json``);
- gives the amphora a private ``/run``, ``/tmp`` and ``/home``, so pid files
  and sockets of one amphora are never another's (the Python and the package it
  runs are bound back if they lived there);
- when the user data carries an authorised key, adds the login user (with
  sudo) to a private copy of ``/etc/passwd``, ``group``, ``shadow`` and
  ``sudoers.d``, and runs sshd on the management address only;
- starts the agent and starts it again if it dies; reaps every orphan
  (HAProxy's master is re-parented here); on SIGTERM stops its children and
  exits, and the kernel ends whatever is left in the PID namespace.

It imports only the standard library and ``hydria.wire``, as the agent does.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hydria.wire.agent_api import AmphoraBoot, boot_from_json

PRIVATE_ETC = Path("/run/amphora/etc")
# the amphora's folder as the amphora sees it: its "disk", bound here before /tmp
# and /home are hidden (the folder may live under either)
DISK = Path("/run/amphora/disk")
# the Python and the hydria package, when they live under /tmp or /home (``software``)
SOFTWARE = Path("/run/amphora/software")
SSHD = "/usr/sbin/sshd"


def sshd_config(address: str, user: str, host_key: Path) -> str:
    """sshd on the management address only, keys only, one user: pure."""
    return "\n".join(
        [
            f"ListenAddress {address}:22",
            f"HostKey {host_key}",
            "PidFile /run/sshd.pid",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            f"AllowUsers {user}",
            "UsePAM no",
            "PrintMotd no",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def free_uid(passwd_text: str, start: int = 1000) -> int:
    used = {
        int(f[2])
        for f in (line.split(":") for line in passwd_text.splitlines())
        if len(f) > 3 and f[2].isdigit()
    }
    uid = start
    while uid in used:
        uid += 1
    return uid


def with_user(passwd: str, group: str, shadow: str, user: str) -> tuple[str, str, str, int]:
    """Copies of the account files with ``user`` in them (if missing): pure."""
    for line in passwd.splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 3:
            return passwd, group, shadow, int(fields[2])
    uid = free_uid(passwd)
    passwd = (
        passwd.rstrip("\n") + f"\n{user}:x:{uid}:{uid}:amphora operator:/home/{user}:/bin/bash\n"
    )
    group = group.rstrip("\n") + f"\n{user}:x:{uid}:\n"
    # '*': no password can ever match; key logins are not locked out by it
    shadow = shadow.rstrip("\n") + f"\n{user}:*:20000:0:99999:7:::\n"
    return passwd, group, shadow, uid


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _bind(source: Path, target: str) -> None:
    _run("mount", "--bind", str(source), target)


def software() -> list[Path]:
    """Where this Python and the ``hydria`` package live, when the private ``/tmp``
    or ``/home`` would hide them: a virtualenv or a checkout there (an operator's
    venv in a home folder, a test run's clone under /tmp) must still start the
    agent after the mounts."""
    package_root = Path(__file__).resolve().parents[2]  # the folder holding hydria/
    found = {Path(sys.prefix), Path(sys.base_prefix), package_root}
    hidden = (Path("/tmp"), Path("/home"))
    return sorted(p for p in found if any(p.is_relative_to(h) for h in hidden))


def private_mounts(folder: Path) -> None:
    _run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    DISK.mkdir(parents=True)
    _bind(folder, str(DISK))
    kept = software()
    for i, path in enumerate(kept):  # held under the new /run while /tmp and /home go
        (SOFTWARE / str(i)).mkdir(parents=True)
        _bind(path, str(SOFTWARE / str(i)))
    _run("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp")
    _run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/home")
    for i, path in enumerate(kept):  # and back where the interpreter looks for them
        path.mkdir(parents=True, exist_ok=True)
        _bind(SOFTWARE / str(i), str(path))


def private_etc(boot: AmphoraBoot, hostname: str) -> None:
    """Hostname in /etc/hosts (sudo resolves it), and the login user if ssh is on."""
    hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
    _write(PRIVATE_ETC / "hosts", hosts.rstrip("\n") + f"\n127.0.1.1 {hostname}\n", 0o644)
    _bind(PRIVATE_ETC / "hosts", "/etc/hosts")
    _write(PRIVATE_ETC / "hostname", hostname + "\n", 0o644)
    if Path("/etc/hostname").exists():
        _bind(PRIVATE_ETC / "hostname", "/etc/hostname")
    if not (boot.ssh_authorized_keys and boot.ssh_user):
        return
    user = boot.ssh_user
    passwd, group, shadow, uid = with_user(
        Path("/etc/passwd").read_text(),
        Path("/etc/group").read_text(),
        Path("/etc/shadow").read_text() if Path("/etc/shadow").exists() else "",
        user,
    )
    for name, text, mode in (
        ("passwd", passwd, 0o644),
        ("group", group, 0o644),
        ("shadow", shadow, 0o640),
    ):
        _write(PRIVATE_ETC / name, text, mode)
        _bind(PRIVATE_ETC / name, f"/etc/{name}")
    sudoers = PRIVATE_ETC / "sudoers.d"
    _write(sudoers / "90-amphora", f"{user} ALL=(ALL) NOPASSWD:ALL\n", 0o440)
    if Path("/etc/sudoers.d").is_dir():
        _bind(sudoers, "/etc/sudoers.d")
    home = Path("/home") / user
    ssh_dir = home / ".ssh"
    _write(ssh_dir / "authorized_keys", boot.ssh_authorized_keys.rstrip("\n") + "\n", 0o600)
    for path in (home, ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, uid, uid)
    os.chmod(ssh_dir, 0o700)


def sshd_command(boot: AmphoraBoot) -> list[str] | None:
    if not (
        boot.ssh_authorized_keys and boot.ssh_user and boot.ssh_host_key and Path(SSHD).exists()
    ):
        return None
    ssh_dir = Path("/run/amphora/ssh")
    key = ssh_dir / "ssh_host_ed25519_key"
    _write(key, boot.ssh_host_key.rstrip("\n") + "\n", 0o600)
    config = ssh_dir / "sshd_config"
    _write(config, sshd_config(boot.lb_network_ip, boot.ssh_user, key), 0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    return [SSHD, "-D", "-e", "-f", str(config)]


def agent_command(folder: Path) -> list[str]:
    """The agent as the ``local`` driver starts it (``hydria.agent.__main__``): without
    the CLI's click and command table, a boot's start-up costs that much less."""
    return [sys.executable, "-P", "-m", "hydria.agent", "amphora-agent", "--dir", str(folder)]


class Init:
    """Start the services, restart the ones that die, reap everything."""

    def __init__(self, services: dict[str, list[str]], log: int) -> None:
        self.services = services
        self.log = log
        self.pids: dict[int, str] = {}
        self.stopping = False

    def start(self, name: str) -> None:
        proc = subprocess.Popen(
            self.services[name],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            close_fds=True,
        )
        self.pids[proc.pid] = name

    def stop(self, *_: object) -> None:
        self.stopping = True
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for name in self.services:
            self.start(name)
        while self.pids:
            try:
                pid, _status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            name = self.pids.pop(pid, "")
            if name and not self.stopping:
                time.sleep(0.5)  # a crash loop must not eat the CPU
                self.start(name)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hydria.agent.instance")
    parser.add_argument("--dir", required=True, type=Path)
    folder = parser.parse_args(argv).dir.resolve()
    # an init works from /: the folder it was started from (the controller's) may be
    # under the /tmp or /home the private mounts hide, and HAProxy, which goes back
    # to its starting folder after reading its files, then refused every configuration
    os.chdir("/")
    boot = boot_from_json((folder / "boot.json").read_text())
    hostname = boot.hostname or f"amphora-{boot.amphora_id}"
    socket.sethostname(hostname)
    private_mounts(folder)
    private_etc(boot, hostname)
    services = {"agent": agent_command(DISK)}
    sshd = sshd_command(boot)
    if sshd is not None:
        services["sshd"] = sshd
    log = os.open(DISK / "instance.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    init = Init(services, log)
    signal.signal(signal.SIGTERM, init.stop)
    signal.signal(signal.SIGINT, init.stop)
    return init.run()


if __name__ == "__main__":
    raise SystemExit(main())
