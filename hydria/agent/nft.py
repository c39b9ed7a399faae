"""The nftables UDP engine as the agent runs it: one table, one ``nft -f`` per change.

There is no process to supervise: the kernel forwards the datagrams, and the
table lives as long as the amphora's network namespace. The agent only
writes it. ``apply`` reads what the table holds (``nft -j list table``),
makes the ruleset with the dead members left out (``hydria.core.nft.ruleset``),
checks it with ``nft -c`` and applies it with one ``nft -f``: one transaction,
so datagrams see the old rules or the new ones, never a half. Counters and
persistence maps (and timeout policies) outlive ``flush table``, so statistics
keep counting.

The engine is offered only where it is safe: ``nft`` installed, root, and an
amphora that owns its network namespace (the ``netns`` compute driver, found by
``own_instance``). The
``local`` driver's amphorae share the host's namespace, whose tables and
127.0.0.0/8 traffic belong to everyone on the host; they keep nginx
(docs/udp.md, "Which engine").

Active flows come from the kernel's conntrack table of this namespace (read
through ``/proc/thread-self`` so a caller that entered another namespace reads
that one's). The rules choose a member for a flow's first datagram only: the
kernel sends the rest after its conntrack entry, so when a member stops serving
(found dead, disabled or removed; not drained by weight 0, whose flows may
finish) its flows are deleted with the ``conntrack`` tool, and a client that
keeps its socket moves to a live member with its next datagram instead of
waiting for the entry to time out (the listener's ``timeout_client_data``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from hydria.agent.haproxy import ConfigInvalid, HAProxyError
from hydria.agent.processes import run_tool
from hydria.core.nft import NftPlan, counter_names, flow_targets, flows_counter, ruleset
from hydria.core.procs import cmdline

log = logging.getLogger("hydria.agent.nft")

CONNTRACK = Path("/proc/thread-self/net/nf_conntrack")
# of the namespace of the thread opening them, by the table's family
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
IP6_FORWARD = Path("/proc/sys/net/ipv6/conf/all/forwarding")
FORWARD = {"ip": IP_FORWARD, "ip6": IP6_FORWARD}


class NftError(HAProxyError):
    """``nft`` would not run or apply (the agent API answers it like HAProxy's)."""


def own_instance() -> bool:
    """Is this agent in an instance of its own (the ``netns`` driver)?

    There, ``hydria.agent.instance`` is PID 1 of a PID namespace made inside the
    amphora's network namespace. The ``local`` driver's agents see the host's PID 1
    and share its network namespace: no table of ours belongs there.
    """
    return b"hydria.agent.instance" in cmdline(1)


def find_nft() -> str | None:
    return shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")


def conntrack_flows(text: str) -> Counter[tuple[str, int]]:
    """Pure: live UDP flows by original destination ``(address, port)``; IPv6
    addresses compressed (the kernel writes all eight groups)."""
    found: Counter[tuple[str, int]] = Counter()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] != "udp":
            continue
        fields: dict[str, str] = {}
        for part in parts:  # the first of each key is the original direction's
            key, _, value = part.partition("=")
            if value:
                fields.setdefault(key, value)
        dst, dport = fields.get("dst"), fields.get("dport")
        if dst and dport and dport.isdigit():
            found[(_compressed(dst), int(dport))] += 1
    return found


def _compressed(address: str) -> str:
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


class NftTable:
    """The amphora's UDP table, written with the ``nft`` binary."""

    def __init__(self, folder: Path, *, own_network: bool, binary: str | None = None) -> None:
        self.folder = folder
        self.binary = binary or find_nft()
        self.own_network = own_network
        self.conntrack = shutil.which("conntrack") or shutil.which(
            "conntrack", path="/usr/sbin:/sbin"
        )
        self._serving: frozenset[tuple[str, int]] = frozenset()

    @property
    def available(self) -> bool:
        return self.binary is not None and os.geteuid() == 0 and self.own_network

    @property
    def file(self) -> Path:
        return self.folder / "udp.nft"

    def _run(self, *args: str, what: str) -> str:
        if self.binary is None:
            raise NftError("nft is not installed")
        res = run_tool(
            [self.binary, *args],
            name="nft",
            failed=f"nft refused to {what}",
            error=NftError,
            refused=ConfigInvalid,
        )
        return res.stdout

    def listing(self, table: str, family: str = "ip") -> list[dict[str, Any]]:
        """The table's objects as ``nft -j`` gives them; [] when there is no table."""
        try:
            out = self._run("-j", "list", "table", family, table, what="list the table")
        except ConfigInvalid:
            return []
        items: list[dict[str, Any]] = json.loads(out).get("nftables", [])
        return items

    def exists(self, table: str, family: str = "ip") -> bool:
        return bool(self.listing(table, family))

    def serving(self, plan: NftPlan, items: list[dict[str, Any]] | None = None) -> bool:
        """The table is there and the namespace forwards its family (something may
        turn it off); ``items``: the table's listing when the caller already has it."""
        try:
            forwarding = FORWARD[plan.family].read_text().strip() == "1"
        except OSError:
            forwarding = False
        if not forwarding:
            return False
        return bool(self.listing(plan.table, plan.family) if items is None else items)

    def apply(self, plan: NftPlan, down: set[str]) -> None:
        """Check, then apply the ruleset for ``plan`` without the ``down`` members."""
        existing = {
            (kind, str(item[kind]["name"]))
            for item in self.listing(plan.table, plan.family)
            for kind in ("counter", "map", "ct timeout")
            if kind in item
        }
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        candidate = self.file.with_name("udp.nft.new")
        candidate.write_text(ruleset(plan, down, existing))
        self._run("-c", "-f", str(candidate), what="check the ruleset")
        self._forwarding(plan.family)
        self._run("-f", str(candidate), what="apply the ruleset")
        now = flow_targets(plan, down)
        for address, port in sorted(self._serving - now):
            self.forget_flows_to(address, port)
        self._serving = now
        candidate.replace(self.file)  # last: the file shows a change that is complete

    def forget_flows_to(self, address: str, port: int) -> None:
        """Delete the UDP flows this namespace sends to ``address:port`` (best effort:
        without the ``conntrack`` tool they last until their entries time out)."""
        if self.conntrack is None:
            log.info("event=udp_flows_kept member=%s:%d reason=no_conntrack_tool", address, port)
            return
        # exit status 1 means "no such flow": nothing to delete is not a failure
        family = "ipv6" if ":" in address else "ipv4"
        try:
            run_tool(
                [self.conntrack, "-D", "-f", family, "-p", "udp", "--reply-src", address]
                + ["--reply-port-src", str(port)],
                name="conntrack",
                failed="conntrack could not delete flows",
                error=NftError,
                ok_codes=(0, 1),
            )
        except NftError as exc:
            log.warning("event=udp_flows_kept member=%s:%d reason=%s", address, port, exc)

    def delete(self, plan: NftPlan) -> None:
        if self.exists(plan.table, plan.family):
            self._run("delete", "table", plan.family, plan.table, what="delete the table")
        self.file.unlink(missing_ok=True)

    @staticmethod
    def _forwarding(family: str) -> None:
        """DNAT forwards datagrams to the members: the namespace must route them
        (IPv6: ``all/forwarding``, which also makes its interfaces ignore router
        advertisements, as a router does; the netns driver sets addresses and
        routes itself)."""
        knob = FORWARD[family]
        try:
            if knob.read_text().strip() != "1":
                knob.write_text("1")
        except OSError as exc:
            raise NftError(f"could not turn on forwarding ({family})", str(exc)) from exc

    def stats(
        self, plan: NftPlan, items: list[dict[str, Any]] | None = None
    ) -> dict[str, dict[str, int]]:
        """Per listener: ``bytes_in``/``bytes_out`` (datagrams to and from its members),
        ``total_connections`` (flows begun) and ``active_connections`` (live flows);
        ``items``: the table's listing when the caller already has it."""
        counters = {
            str(item["counter"]["name"]): item["counter"]
            for item in (self.listing(plan.table, plan.family) if items is None else items)
            if "counter" in item
        }
        try:
            flows = conntrack_flows(CONNTRACK.read_text())
        except OSError:
            flows = Counter()

        def count(name: str, field: str) -> int:
            return int(counters.get(name, {}).get(field, 0))

        out = {}
        for li in plan.listeners:
            names = [counter_names(li, m) for m in li.members]
            out[li.id] = {
                "bytes_in": sum(count(n_in, "bytes") for n_in, _ in names),
                "bytes_out": sum(count(n_out, "bytes") for _, n_out in names),
                "total_connections": count(flows_counter(li), "packets"),
                "active_connections": flows.get((_compressed(li.vip), li.port), 0),
            }
        return out

    def member_packets(self, plan: NftPlan) -> dict[str, int]:
        """Datagrams each member received (tests and operators look at the spread)."""
        counters = {
            str(item["counter"]["name"]): int(item["counter"]["packets"])
            for item in self.listing(plan.table, plan.family)
            if "counter" in item
        }
        out: Counter[str] = Counter()
        for li in plan.listeners:
            for m in li.members:
                out[m.id] += counters.get(counter_names(li, m)[0], 0)
        return dict(out)
