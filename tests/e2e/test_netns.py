"""Amphorae as instances (``netns`` driver): the real ``openstack`` CLI, real
namespaces, bridges and veths, real traffic from a client namespace on the VIP
subnet to members in namespaces on another subnet, operator ssh, ACTIVE_STANDBY
(VRRP takeover, stick tables kept through HAProxy peers), IPv6 VIPs and members,
and a dual-stack load balancer (an IPv6 additional VIP beside the IPv4 VIP).

Every namespace, bridge and veth is the test's (or the ``hydria up`` it runs)
and is removed in the fixture's ``finally``; addresses live only on them.
"""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import netns_lab
from tests.support.hydria_proc import BIN, HydriaUp, running
from tests.support.netns_lab import Lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netns,
    pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2"),
]


@dataclass
class Net:
    up: HydriaUp
    lab: Lab
    n: int
    mgmt_bridge: str
    vip_bridge: str
    member_bridge: str
    member_subnet_id: str
    client: str  # namespace on the VIP subnet
    members: tuple[str, str]  # back-end addresses on the member subnet

    @property
    def key(self) -> Path:
        return self.up.state_dir / "ssh" / "amphora"

    def hydria(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**self.up.env, "HYDRIA_STATE_DIR": str(self.up.state_dir)}
        return subprocess.run(
            [str(BIN / "hydria"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with deployment(tmp_path_factory, "netns") as made:
        yield made


@contextlib.contextmanager
def deployment(
    tmp_path_factory: pytest.TempPathFactory, name: str, **extra_env: str
) -> Iterator[Net]:
    """A ``hydria up --driver netns`` with its bridges, client and members, all
    removed at the end."""
    with netns_lab.claimed_octet() as n:
        yield from _deployment(tmp_path_factory, name, n, **extra_env)


def _deployment(
    tmp_path_factory: pytest.TempPathFactory, name: str, n: int, **extra_env: str
) -> Iterator[Net]:
    lab = Lab()
    mgmt_bridge = f"hydbr-t{lab.tag}"
    state = tmp_path_factory.mktemp(name) / "state"
    env = {
        **netns_lab.deployment_env(n, mgmt_bridge),
        "HYDRIA_HEARTBEAT_INTERVAL": "0.5",
        "HYDRIA_HEARTBEAT_TIMEOUT": "3",
        **extra_env,
    }
    bridges = [mgmt_bridge]
    try:
        # the health manager listens on the management bridge's host side
        probe = HydriaUp(state, extra_env=env)
        env["HYDRIA_HEALTH_BIND"] = f"10.250.{n}.1:{probe.health_port}"
        # run from a folder under /tmp (as the benchmarks run it): the amphorae's
        # private /tmp hides it, and an instance must not need its controller's folder
        with running(state, extra_env=env, cwd=state) as up:
            member_subnet = netns_lab.member_subnet(BIN / "hydria", state, n)
            public = httpx.get(up.endpoint + "/v2.0/subnets", params={"name": "public"}).json()
            vip_bridge = netns_lab.subnet_bridge(public["subnets"][0]["id"])
            member_bridge = netns_lab.subnet_bridge(member_subnet)
            bridges += [vip_bridge, member_bridge]
            lab.bridge(vip_bridge)
            lab.bridge(member_bridge)
            client_ns = lab.host("c", vip_bridge, f"10.251.{n}.250/24")
            members = (f"10.252.{n}.11", f"10.252.{n}.12")
            for i, address in enumerate(members):
                ns = lab.host(f"m{i}", member_bridge, f"{address}/24")
                lab.http_backend(ns, f"web-{i}", address, 8080)
            yield Net(
                up,
                lab,
                n,
                mgmt_bridge,
                vip_bridge,
                member_bridge,
                member_subnet,
                client_ns,
                members,
            )
    finally:
        netns_lab.remove_hydria_leftovers(mgmt_bridge, state / "amphorae")
        lab.cleanup()
        for bridge in bridges:
            netns_lab.ip("link", "del", bridge, check=False)


def _lb_with_members(
    net: Net,
    name: str,
    *extra: str,
    vip_subnet: str = "public",
    members: tuple[str, ...] | None = None,
    member_subnet: str = "members",
) -> tuple[dict, str]:
    """LB, HTTP listener on 80, ROUND_ROBIN pool with an HTTP monitor and one member
    on 8080 for each back-end (the lab's IPv4 ones unless ``members`` says), each
    step through the real CLI waiting for ACTIVE as a user would."""
    os_ = net.up.openstack
    lb = os_(
        "loadbalancer", "create", "--name", name, "--vip-subnet-id", vip_subnet, *extra, "--wait"
    )
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb["id"],
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--wait",
    )
    os_(
        "loadbalancer",
        "healthmonitor",
        "create",
        "--delay",
        "1",
        "--timeout",
        "1",
        "--max-retries",
        "1",
        "--type",
        "HTTP",
        "--wait",
        pool["id"],
    )
    for address in net.members if members is None else members:
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            address,
            "--subnet-id",
            member_subnet,
            "--protocol-port",
            "8080",
            "--wait",
            pool["id"],
        )
    return lb, pool["id"]


def _answers(net: Net, vip: str, count: int = 6) -> set[str]:
    return {net.lab.curl(net.client, f"http://{vip}/").stdout for _ in range(count)}


def _amphora(net: Net, lb_id: str) -> dict:
    amps = net.up.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb_id)
    assert len(amps) == 1, amps
    return net.up.openstack("loadbalancer", "amphora", "show", amps[0]["id"])


def _assert_nothing_left(net: Net, amphora_id: str) -> None:
    """No namespace, veth or address of the amphora: only the test's own ports."""
    namespaces, veths = netns_lab.hydria_leftovers(net.mgmt_bridge)
    assert namespaces == [] and veths == []
    assert "hyd-" + amphora_id.replace("-", "")[:8] not in netns_lab.namespaces()
    assert not [
        link
        for link in netns_lab.links()
        if link.startswith(("hym", "hyp")) and link[3:11] == amphora_id.replace("-", "")[:8]
    ]
    for bridge in (net.vip_bridge, net.member_bridge):
        out = netns_lab.ip("-o", "link", "show", "master", bridge, check=False)
        ports = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        assert all(p.startswith(f"ht{net.lab.tag}") for p in ports), f"{bridge} keeps {ports}"
    assert not (net.up.state_dir / "amphorae" / amphora_id).exists()


def test_cli_lb_serves_members_on_another_subnet_and_agent_is_management_only(net: Net):
    lb, pool_id = _lb_with_members(net, "netns-web")
    vip = lb["vip_address"]
    assert vip.startswith(f"10.251.{net.n}.")
    assert _answers(net, vip) == {"web-0", "web-1"}

    amp = _amphora(net, lb["id"])
    mgmt = amp["lb_network_ip"]
    assert mgmt.startswith(f"10.250.{net.n}.")
    assert amp["ha_ip"] == vip and amp["vrrp_ip"].startswith(f"10.251.{net.n}.")
    assert amp["compute_id"] == "hyd-" + amp["id"].replace("-", "")[:8]

    # heartbeats cross the management bridge: members go ONLINE from HAProxy's checks
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        members = net.up.openstack("loadbalancer", "member", "list", pool_id)
        if {m["operating_status"] for m in members} == {"ONLINE"}:
            break
        time.sleep(0.5)
    assert {m["operating_status"] for m in members} == {"ONLINE"}, members

    # the agent and sshd listen on the management address only ...
    listening = net.lab.run(amp["compute_id"], "ss", "-ltnH").stdout
    for port in (9443, 22):
        binds = {
            line.split()[3]
            for line in listening.splitlines()
            if line.split()[3].endswith(f":{port}")
        }
        assert binds == {f"{mgmt}:{port}"}, listening
    # ... and not even a client that routes the management network through the
    # VIP (Linux would accept it on any interface) reaches them
    net.lab.run(net.client, "ip", "route", "add", f"10.250.{net.n}.0/24", "via", vip)
    assert net.lab.can_connect(net.client, vip, 80)
    assert not net.lab.can_connect(net.client, mgmt, 9443)
    assert not net.lab.can_connect(net.client, mgmt, 22)
    assert net.lab.curl(net.client, f"https://{mgmt}:9443/1.0/info", "-k").returncode != 0

    # from the controller side: only with a client certificate the CA signed
    pki = net.up.state_dir / "pki"
    no_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))  # the controller CA
    no_cert.check_hostname = False
    with pytest.raises((httpx.TransportError, ssl.SSLError)):
        httpx.get(f"https://{mgmt}:9443/1.0/info", verify=no_cert, timeout=5).raise_for_status()
    with_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with_cert.check_hostname = False
    with_cert.load_cert_chain(*_client_cert(pki))
    info = httpx.get(f"https://{mgmt}:9443/1.0/info", verify=with_cert, timeout=5).json()
    assert info["amphora_id"] == amp["id"]

    shell = net.hydria("amphora", "shell", amp["id"], "--", "hostname")
    assert shell.stdout.strip() == f"amphora-{amp['id']}", shell.stderr

    net.up.openstack("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    assert not net.lab.can_connect(net.client, vip, 80)
    _assert_nothing_left(net, amp["id"])


def _client_cert(pki: Path) -> tuple[str, str]:
    from hydria.drivers.certs.local_ca import ControllerCA

    cert, key = ControllerCA.load_or_create(pki).client_cert_paths()
    return str(cert), str(key)


def test_operator_ssh_into_an_amphora(net: Net, tmp_path: Path):
    lb = net.up.openstack("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
    amp = _amphora(net, lb["id"])
    name = f"amphora-{amp['id']}"
    mgmt = amp["lb_network_ip"]
    assert (net.key.stat().st_mode & 0o777) == 0o600

    res = net.hydria("amphora", "ssh", amp["id"], "--", "hostname")
    assert res.stdout.strip() == name, res.stderr
    plain = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
    ]
    res = subprocess.run(
        [*plain, "-i", str(net.key), f"ubuntu@{mgmt}", "hostname"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.stdout.strip() == name, res.stderr
    sudo = net.hydria("amphora", "ssh", amp["id"], "--", "sudo", "-n", "id", "-u")
    assert sudo.stdout.strip() == "0", sudo.stderr

    # any other key is refused
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    res = subprocess.run(
        [*plain, "-i", str(other), f"ubuntu@{mgmt}", "hostname"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 255 and "Permission denied" in res.stderr

    listing = net.hydria("amphora", "list").stdout
    row = next(line for line in listing.splitlines() if line.startswith(name))
    assert f"lb-mgmt-net={mgmt}" in row and f"{lb['vip_address']} (VIP)" in row
    assert "octavia" in row

    net.up.openstack("loadbalancer", "delete", "--wait", lb["id"], parse=False)
    _assert_nothing_left(net, amp["id"])


def _holds_vip(net: Net, compute_id: str, vip: str) -> bool:
    return f" {vip}/" in netns_lab.ip("-n", compute_id, "-o", "addr", "show", check=False)


def test_active_standby_survives_the_masters_death_and_is_rebuilt(net: Net):
    os_ = net.up.openstack
    os_(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "ha",
        "--provider",
        "amphora",
        "--flavor-data",
        '{"loadbalancer_topology": "ACTIVE_STANDBY"}',
    )
    os_("loadbalancer", "flavor", "create", "--name", "ha", "--flavorprofile", "ha", "--enable")
    lb, _pool = _lb_with_members(net, "netns-ha", "--flavor", "ha")
    vip = lb["vip_address"]
    amps = [
        os_("loadbalancer", "amphora", "show", a["id"])
        for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    ]
    assert sorted(a["role"] for a in amps) == ["BACKUP", "MASTER"]
    for a in amps:
        assert a["ha_ip"] == vip and a["vrrp_id"] == 1
        assert a["vrrp_priority"] == (100 if a["role"] == "MASTER" else 90)
        assert a["vrrp_ip"].startswith(f"10.251.{net.n}.") and a["vrrp_ip"] != vip
    deadline = time.monotonic() + 30
    while not [a for a in amps if _holds_vip(net, a["compute_id"], vip)]:
        assert time.monotonic() < deadline, "no amphora took the VIP"
        time.sleep(0.1)
    holders = [a for a in amps if _holds_vip(net, a["compute_id"], vip)]
    assert len(holders) == 1
    master = holders[0]

    client = net.lab.traffic(net.client, f"http://{vip}/")
    assert client.stdout is not None
    assert "ok" in client.stdout.readline()
    # the instance dies: every process frozen, then killed (its kernel still has the VIP)
    pids = netns_lab.ns_pids(master["compute_id"])
    for sig in ("-STOP", "-KILL"):
        subprocess.run(["kill", sig, *map(str, pids)], check=False)
    killed_at = time.time()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = [
            a
            for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
            if a["status"] != "DELETED"
        ]
        shown = os_("loadbalancer", "show", lb["id"])
        if (
            len(now) == 2
            and master["id"] not in {a["id"] for a in now}
            and shown["provisioning_status"] == "ACTIVE"
        ):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"not rebuilt: {now}\n{net.up.log(tail=6000)}")
    # the dead one is fenced and gone; the survivor kept the VIP (nopreempt)
    assert master["compute_id"] not in netns_lab.namespaces()
    survivor = next(a for a in amps if a["id"] != master["id"])
    assert _holds_vip(net, survivor["compute_id"], vip)
    # the survivor's HAProxy peers are the live pair: its partner's new address. The
    # partner is read afresh each time: on a host loaded enough to starve its
    # heartbeats for 3 s the rebuilt one may itself be replaced meanwhile, and the
    # survivor must then name that one.
    cfg = net.up.state_dir / "amphorae" / survivor["id"] / "haproxy.cfg"
    deadline = time.monotonic() + 60
    while True:
        live = [
            a
            for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
            if a["status"] != "DELETED" and a["id"] != survivor["id"]
        ]
        partner = os_("loadbalancer", "amphora", "show", live[0]["id"]) if len(live) == 1 else {}
        running = cfg.read_text()
        if (
            partner
            and f"peer {partner['role']} {partner['vrrp_ip']}:1025" in running
            and f"{master['vrrp_ip']}:1025" not in running
        ):
            break
        assert time.monotonic() < deadline, f"{partner}\n{running}\n{net.up.log(tail=6000)}"
        time.sleep(0.5)
    time.sleep(1)  # traffic keeps flowing after the rebuild
    client.stdin.close()  # type: ignore[union-attr]
    lines = client.stdout.read().splitlines()
    client.wait(timeout=30)
    failed = [line for line in lines if " fail" in line]
    assert lines and not failed, (
        f"killed at {killed_at:.4f}; {len(failed)} of {len(lines)} "
        f"failed: {failed[:3]} ... {failed[-2:]}"
    )
    after = [line.split() for line in lines if float(line.split()[0]) > killed_at]
    assert after and {f[2] for f in after} == {"web-0", "web-1"}
    back = float(after[0][3]) - killed_at
    print(f"VIP answered again {back * 1000:.0f} ms after the MASTER was killed")

    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    for a in now:
        _assert_nothing_left(net, a["id"])
    _assert_nothing_left(net, master["id"])


def test_active_standby_stick_table_survives_failover(net: Net):
    """SOURCE_IP persistence through a MASTER's death: the BACKUP learnt every entry
    from it (HAProxy peers), so a client stays on its member after VRRP moves the VIP."""
    os_ = net.up.openstack
    os_(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "ha-peers",
        "--provider",
        "amphora",
        "--flavor-data",
        '{"loadbalancer_topology": "ACTIVE_STANDBY"}',
    )
    os_(
        "loadbalancer",
        "flavor",
        "create",
        "--name",
        "ha-peers",
        "--flavorprofile",
        "ha-peers",
        "--enable",
    )
    lb = os_(
        "loadbalancer",
        "create",
        "--name",
        "netns-peers",
        "--vip-subnet-id",
        "public",
        "--flavor",
        "ha-peers",
        "--wait",
    )
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb["id"],
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--session-persistence",
        "type=SOURCE_IP",
        "--wait",
    )
    for address in net.members:
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            address,
            "--subnet-id",
            "members",
            "--protocol-port",
            "8080",
            "--wait",
            pool["id"],
        )
    vip = lb["vip_address"]
    amps = [
        os_("loadbalancer", "amphora", "show", a["id"])
        for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    ]
    deadline = time.monotonic() + 30
    while not (holders := [a for a in amps if _holds_vip(net, a["compute_id"], vip)]):
        assert time.monotonic() < deadline, "no amphora took the VIP"
        time.sleep(0.1)
    master = holders[0]
    # another client first: the MASTER's round robin then gives ours the member
    # that a HAProxy which never saw either client would not pick first
    other = net.lab.host("c2", net.vip_bridge, f"10.251.{net.n}.249/24")
    first = net.lab.curl(other, f"http://{vip}/").stdout
    ours = net.lab.curl(net.client, f"http://{vip}/").stdout
    assert {first, ours} == {"web-0", "web-1"}
    assert _answers(net, vip) == {ours}

    pids = netns_lab.ns_pids(master["compute_id"])
    for sig in ("-STOP", "-KILL"):
        subprocess.run(["kill", sig, *map(str, pids)], check=False)
    survivor = next(a for a in amps if a["id"] != master["id"])
    deadline = time.monotonic() + 60
    while not _holds_vip(net, survivor["compute_id"], vip):
        assert time.monotonic() < deadline, "the BACKUP did not take the VIP"
        time.sleep(0.05)
    answers: list[str] = []
    deadline = time.monotonic() + 30
    while len(answers) < 6:
        assert time.monotonic() < deadline, f"the VIP did not answer again: {answers}"
        res = net.lab.curl(net.client, f"http://{vip}/")
        if res.returncode == 0:
            answers.append(res.stdout)
    assert set(answers) == {ours}, f"the survivor moved the client off {ours}: {answers}"
    _wait_active_again(net, lb["id"], master["id"])
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def _wait_active_again(net: Net, lb_id: str, dead: str) -> None:
    """The controller rebuilt ``dead``'s replacement and the load balancer is ACTIVE."""
    os_ = net.up.openstack
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = [
            a
            for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb_id)
            if a["status"] != "DELETED"
        ]
        if (
            len(now) == 2
            and dead not in {a["id"] for a in now}
            and os_("loadbalancer", "show", lb_id)["provisioning_status"] == "ACTIVE"
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"not rebuilt: {net.up.log(tail=3000)}")


@dataclass
class V6:
    vip_subnet: str
    member_subnet: str
    client: str
    members: tuple[str, str]


@pytest.fixture(scope="module")
def v6(net: Net) -> V6:
    """An IPv6 VIP subnet with a client namespace, an IPv6 member subnet with two
    back-ends (the namespaces and bridges are the lab's, removed with it)."""
    n = f"{net.n:x}"
    made = {}
    for name, cidr, extra in (
        ("v6vip", f"fd70:{n}::/64", ()),
        (
            "v6mem",
            f"fd71:{n}::/64",
            ("--allocation-start", f"fd71:{n}::100", "--allocation-end", f"fd71:{n}::1ff"),
        ),
    ):
        res = net.hydria("subnet", "create", name, "--cidr", cidr, *extra)
        assert res.returncode == 0, res.stderr
        made[name] = res.stdout.split()[0]
        net.lab.bridge("hydbr" + made[name].replace("-", "")[:8])
    vip_bridge = "hydbr" + made["v6vip"].replace("-", "")[:8]
    member_bridge = "hydbr" + made["v6mem"].replace("-", "")[:8]
    client = net.lab.host("c6", vip_bridge, f"fd70:{n}::fa/64")
    members = (f"fd71:{n}::11", f"fd71:{n}::12")
    for i, address in enumerate(members):
        ns = net.lab.host(f"m6{i}", member_bridge, f"{address}/64")
        net.lab.http_backend(ns, f"web6-{i}", address, 8080)
    return V6(made["v6vip"], made["v6mem"], client, members)


def _v6_lb(net: Net, v6: V6, name: str, *extra: str) -> dict:
    lb, _pool = _lb_with_members(
        net,
        name,
        *extra,
        vip_subnet=v6.vip_subnet,
        members=v6.members,
        member_subnet=v6.member_subnet,
    )
    return lb


def _v6_answers(net: Net, v6: V6, vip: str, count: int = 6) -> set[str]:
    return {net.lab.curl(v6.client, f"http://[{vip}]/").stdout for _ in range(count)}


def test_ipv6_vip_and_members(net: Net, v6: V6):
    lb = _v6_lb(net, v6, "netns-v6")
    vip = lb["vip_address"]
    assert vip.startswith(f"fd70:{net.n:x}::")
    deadline = time.monotonic() + 30
    while (seen := _v6_answers(net, v6, vip)) != {"web6-0", "web6-1"}:
        assert time.monotonic() < deadline, f"the IPv6 VIP answered {seen}"
        time.sleep(0.5)
    amp = _amphora(net, lb["id"])
    assert amp["vrrp_ip"].startswith(f"fd70:{net.n:x}::")
    net.up.openstack("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    _assert_nothing_left(net, amp["id"])


def test_ipv6_active_standby_moves_the_vip(net: Net, v6: V6):
    os_ = net.up.openstack
    os_(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "ha6",
        "--provider",
        "amphora",
        "--flavor-data",
        '{"loadbalancer_topology": "ACTIVE_STANDBY"}',
    )
    os_("loadbalancer", "flavor", "create", "--name", "ha6", "--flavorprofile", "ha6", "--enable")
    lb = _v6_lb(net, v6, "netns-v6-ha", "--flavor", "ha6")
    vip = lb["vip_address"]
    amps = [
        os_("loadbalancer", "amphora", "show", a["id"])
        for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    ]
    deadline = time.monotonic() + 30
    while not (holders := [a for a in amps if _holds_vip(net, a["compute_id"], vip)]):
        assert time.monotonic() < deadline, "no amphora took the IPv6 VIP"
        time.sleep(0.1)
    assert len(holders) == 1
    assert _v6_answers(net, v6, vip) == {"web6-0", "web6-1"}
    pids = netns_lab.ns_pids(holders[0]["compute_id"])
    for sig in ("-STOP", "-KILL"):
        subprocess.run(["kill", sig, *map(str, pids)], check=False)
    survivor = next(a for a in amps if a["id"] != holders[0]["id"])
    deadline = time.monotonic() + 60
    while not _holds_vip(net, survivor["compute_id"], vip):
        assert time.monotonic() < deadline, "the BACKUP did not take the IPv6 VIP"
        time.sleep(0.05)
    deadline = time.monotonic() + 30
    while (seen := _v6_answers(net, v6, vip, 4)) != {"web6-0", "web6-1"}:
        assert time.monotonic() < deadline, f"after the takeover the IPv6 VIP answered {seen}"
        time.sleep(0.2)
    _wait_active_again(net, lb["id"], holders[0]["id"])
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def test_dual_stack_lb_answers_on_both_vips(net: Net, v6: V6):
    """An IPv4 VIP on ``public`` plus an IPv6 additional VIP on a subnet of the same
    network (Octavia's additional_vips): a client on each answers through both."""
    n = f"{net.n:x}"
    res = net.hydria("subnet", "create", "dual6", "--cidr", f"fd72:{n}::/64", "--network", "public")
    assert res.returncode == 0, res.stderr
    dual6 = res.stdout.split()[0]
    bridge6 = net.lab.bridge("hydbr" + dual6.replace("-", "")[:8])
    client6 = net.lab.host("c62", bridge6, f"fd72:{n}::fa/64")
    os_ = net.up.openstack
    lb = os_(
        "loadbalancer",
        "create",
        "--name",
        "netns-dual",
        "--vip-subnet-id",
        "public",
        "--additional-vip",
        f"subnet-id={dual6}",
        "--wait",
    )
    (extra,) = lb["additional_vips"]
    assert extra["subnet_id"] == dual6 and extra["ip_address"].startswith(f"fd72:{n}::")
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb["id"],
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--wait",
    )
    for address in net.members:  # IPv4 members behind both VIPs
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            address,
            "--subnet-id",
            "members",
            "--protocol-port",
            "8080",
            "--wait",
            pool["id"],
        )
    deadline = time.monotonic() + 30
    while True:
        v4 = _answers(net, lb["vip_address"])
        v6_seen = {
            net.lab.curl(client6, f"http://[{extra['ip_address']}]/").stdout for _ in range(6)
        }
        if v4 == v6_seen == {"web-0", "web-1"}:
            break
        assert time.monotonic() < deadline, f"IPv4 VIP answered {v4}, IPv6 VIP {v6_seen}"
        time.sleep(0.5)
    amp = _amphora(net, lb["id"])
    # what an operator reads (server list): both VIPs, on their subnets' networks
    listed = net.hydria("amphora", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if amp["id"] in line)
    assert f"{lb['vip_address']} (VIP)" in row and f"{extra['ip_address']} (VIP)" in row, row
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    _assert_nothing_left(net, amp["id"])


@pytest.fixture(scope="module")
def net_with_spares(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with deployment(tmp_path_factory, "spares", HYDRIA_SPARE_AMPHORA_POOL_SIZE="1") as made:
        yield made


def test_a_new_load_balancer_takes_a_spare_namespace_and_serves(net_with_spares: Net):
    """A spare is a booted namespace (agent running, management port plugged, no
    VIP): a create claims it, plugs its VIP and member ports and serves at once."""
    net = net_with_spares
    with net.up.api() as api:
        deadline = time.monotonic() + 120
        while True:
            amps = api.get("/octavia/amphorae", params={"status": "READY"}).json()["amphorae"]
            spares = [a for a in amps if a["loadbalancer_id"] is None]
            if spares:
                break
            assert time.monotonic() < deadline, net.up.log(tail=4000)
            time.sleep(0.2)
        spare = spares[0]["id"]
        assert spare.replace("-", "")[:8] in "".join(netns_lab.namespaces())
    lb, _pool = _lb_with_members(net, "netns-spare")
    amphora = _amphora(net, lb["id"])
    assert amphora["id"] == spare and amphora["status"] == "ALLOCATED"
    assert _answers(net, lb["vip_address"]) == {"web-0", "web-1"}
    net.up.openstack("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    assert not (net.up.state_dir / "amphorae" / spare).exists()


def test_zz_nothing_is_left_once_every_load_balancer_is_deleted(net: Net):
    """Last in the module (the lab's load balancers are all deleted by then): every
    load balancer this deployment still has is deleted, and then no ``hyd-``
    namespace, no ``hym``/``hyp`` veth and no amphora folder of it is left, on the
    management bridge or on any subnet bridge."""
    os_ = net.up.openstack
    for lb in os_("loadbalancer", "list"):
        os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    assert os_("loadbalancer", "list") == []
    namespaces, veths = netns_lab.hydria_leftovers(net.mgmt_bridge)
    assert namespaces == [] and veths == []
    amphorae = net.up.state_dir / "amphorae"
    assert not amphorae.exists() or list(amphorae.iterdir()) == []
    subnets = httpx.get(net.up.endpoint + "/v2.0/subnets").json()["subnets"]
    for subnet in subnets:
        bridge = "hydbr" + subnet["id"].replace("-", "")[:8]
        out = netns_lab.ip("-o", "link", "show", "master", bridge, check=False)
        ports = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        assert not [p for p in ports if p.startswith(("hym", "hyp"))], f"{bridge}: {ports}"
    # and the controllers' address on the management bridge is all that is on it
    addrs = netns_lab.ip("-o", "addr", "show", "dev", net.mgmt_bridge, check=False)
    assert [line.split()[3] for line in addrs.splitlines() if " inet " in line] == [
        f"10.250.{net.n}.1/24"
    ]
