"""The nftables UDP engine's ruleset: a plan both sides share and its pure text.

The controller turns a load balancer's UDP listeners into an ``NftPlan``
(``hydria.render.nft``: every value checked there). The agent turns the plan
into the ruleset with ``ruleset(plan, down, existing)``: the members its
UDP-CONNECT probes found dead are left out of the listener's map, and one
``nft -f`` applies the file as one transaction. The same function, with
nobody down, makes the text the golden tests hold and ``nft -c`` checks.

The kernel does the per-datagram work (as kube-proxy's nftables mode, and as
IPVS does for Octavia): NAT rules see only a flow's first datagram and
conntrack carries the rest, both ways, so no datagram crosses user space.

One ``table <plan.family> <plan.table>``: ``ip`` for an IPv4 VIP, ``ip6``
for an IPv6 one (its members are of the VIP's version: Octavia's 501 refuses a
mix on UDP pools), the same chains either way:

* ``guard`` (filter, prerouting, priority -150, before DNAT): datagrams from
  outside ``allowed_cidrs`` are dropped; with a ``connection_limit``, a new flow
  is dropped while the listener holds that many live flows (``ct count``).
  Without either the chain is left out: a base chain with no rule still costs
  every datagram a hook call.
* ``dispatch`` (nat, prerouting): a listener's datagrams jump to its chain,
  counting new flows and giving each flow the listener's conntrack timeout
  policy (``ct timeout``: ``timeout_client_data``, both before and after the
  member's first reply), so an idle flow ends as nginx's ``proxy_timeout`` ends
  a session, instead of after the kernel's 30/120 s. The listener chain sends
  a client with a live persistence entry to its member (the entry holds the
  member's flow mark: ``ct mark set ... map @sticky``, then ``dnat ip to ct
  mark map``), else picks one with ``numgen inc`` (ROUND_ROBIN) or ``jhash``
  (SOURCE_IP, SOURCE_IP_PORT) over the weights, and drops when no member can
  serve.
* member chains: record the persistence entry (``update @sticky``), mark the
  flow with its listener and member (``ct mark``, ``flow_marks``), DNAT.
* ``stats`` (filter, forward, policy drop): the refresh of the client's
  persistence entry on every datagram it sends; then one rule counts and
  accepts every datagram of the listeners' flows, with the member's counter
  for its direction found by one lookup (``ct direction . ct mark``) instead of
  a rule per member and direction that every datagram walked (about half of
  netfilter's CPU per datagram with one member, more with each member: see
  bench/udp.py). Flows begun before marks (an agent updated under traffic) are
  still accepted by their conntrack tuple, uncounted; nothing else is
  forwarded. DNAT needs the namespace to forward (the agent turns
  ``ip_forward``, or IPv6 ``forwarding``, on), and an amphora must not become a router between the VIP's
  and the members' networks (the ``netns`` network driver keeps forwarding off).
* ``return_path`` (nat, postrouting): the flows we DNATed leave with the amphora's own
  address (``masquerade``), so replies come back through it.

Counters, timeout policies and persistence maps are objects that survive
``flush table``: a
re-applied ruleset keeps statistics, and keeps stickiness while the serving
members are unchanged (the map's name carries a digest of them, so a member
going or coming starts an empty map and a client never sticks to a dead
member; a policy's name carries its seconds, as the kernel does not change a
policy an object already holds). Objects the new plan no longer names are
deleted in the same transaction (``existing``: what the table holds now).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

ROUND_ROBIN: Final = "ROUND_ROBIN"
SOURCE_IP: Final = "SOURCE_IP"
SOURCE_IP_PORT: Final = "SOURCE_IP_PORT"
ALGORITHMS: Final = frozenset({ROUND_ROBIN, SOURCE_IP, SOURCE_IP_PORT})
#: Octavia's persistence_timeout when a pool leaves it unset (keepalived's template).
DEFAULT_PERSISTENCE_TIMEOUT: Final = 360


@dataclass(frozen=True)
class NftMember:
    id: str
    address: str
    port: int
    weight: int
    backup: bool = False
    enabled: bool = True  # admin_state_up


@dataclass(frozen=True)
class NftListener:
    id: str
    vip: str
    port: int
    pool_id: str
    algorithm: str
    members: tuple[NftMember, ...]
    allowed_cidrs: tuple[str, ...] = ()
    connection_limit: int | None = None
    sticky_timeout: int | None = None  # seconds; None: no SOURCE_IP persistence
    sticky_mask: str = "255.255.255.255"
    idle_timeout: int | None = None  # seconds a flow may idle; None: the kernel's own


#: The table's family by the VIP's IP version.
FAMILIES: Final = {4: "ip", 6: "ip6"}


@dataclass(frozen=True)
class NftPlan:
    table: str
    listeners: tuple[NftListener, ...]
    family: str = "ip"  # "ip" (IPv4 VIP) or "ip6" (IPv6 VIP)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NftPlan:
        listeners = []
        for raw in data["listeners"]:
            item = dict(raw)
            item["members"] = tuple(NftMember(**dict(m)) for m in item["members"])
            item["allowed_cidrs"] = tuple(item.get("allowed_cidrs") or ())
            listeners.append(NftListener(**item))
        family = str(data.get("family") or "ip")  # a plan from before IPv6: "ip"
        return cls(table=str(data["table"]), listeners=tuple(listeners), family=family)


def _hex(ident: str) -> str:
    return ident.replace("-", "")


def chain_name(listener: NftListener) -> str:
    return f"l{_hex(listener.id)}"


def counter_names(listener: NftListener, member: NftMember) -> tuple[str, str]:
    """The member's counters in this listener: datagrams to it, and its replies."""
    base = f"{chain_name(listener)}_m{_hex(member.id)}"
    return base + "_in", base + "_out"


def flows_counter(listener: NftListener) -> str:
    return f"{chain_name(listener)}_new"


def timeout_policy(listener: NftListener) -> str | None:
    """The listener's conntrack timeout policy; its seconds are in the name, since
    an object the kernel already holds keeps the policy it was made with."""
    if listener.idle_timeout is None:
        return None
    return f"{chain_name(listener)}_t{listener.idle_timeout}"


def serving(listener: NftListener, down: Iterable[str]) -> tuple[NftMember, ...]:
    """Who takes new flows: the primaries that can, or the backups when none can.

    A member can serve when it is enabled, has a weight (0: drained) and no probe
    found it dead.
    """
    dead = set(down)
    able = [m for m in listener.members if m.enabled and m.weight > 0 and m.id not in dead]
    primaries = tuple(m for m in able if not m.backup)
    return primaries or tuple(m for m in able if m.backup)


def flow_targets(plan: NftPlan, down: Iterable[str]) -> frozenset[tuple[str, int]]:
    """Pure: the ``(address, port)`` of members whose flows may go on: enabled and
    not found dead. A drained member (weight 0) finishes the flows it has, as a
    backup does; a dead, disabled or removed one has its flows deleted."""
    dead = set(down)
    return frozenset(
        (m.address, m.port)
        for li in plan.listeners
        for m in li.members
        if m.enabled and m.id not in dead
    )


def flow_marks(plan: NftPlan) -> dict[tuple[str, str], int]:
    """Pure: the conntrack mark of each ``(listener id, member id)``'s flows.

    A digest of the two ids, so a member keeps its mark whatever else changes
    and flows begun under an earlier ruleset are still counted as its own. Two
    pairs of one table whose digests meet (about one table in a million with a
    hundred members) take the next free value, in the order of their ids.
    """
    marks: dict[tuple[str, str], int] = {}
    taken: set[int] = set()
    for pair in sorted((li.id, m.id) for li in plan.listeners for m in li.members):
        mark = int(hashlib.sha256("/".join(pair).encode()).hexdigest()[:8], 16) or 1
        while mark in taken:
            mark = mark % 0xFFFFFFFF + 1  # never 0: an unmarked flow
        taken.add(mark)
        marks[pair] = mark
    return marks


def sticky_map(listener: NftListener, members: tuple[NftMember, ...]) -> str:
    """The persistence map's name: changes with the serving members, timeout and mask
    (and the kind of value it holds: ``mark``, the member's flow mark)."""
    key = "|".join(
        ["mark", str(listener.sticky_timeout), listener.sticky_mask]
        + [f"{m.id}={m.address}:{m.port}" for m in members]
    )
    return f"{chain_name(listener)}_s{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _seed(listener: NftListener) -> str:
    """A fixed hash seed per listener, so a re-applied ruleset maps clients alike."""
    return "0x" + hashlib.sha256(listener.id.encode()).hexdigest()[:8]


def _slots(members: tuple[NftMember, ...]) -> tuple[int, list[str]]:
    """Weights as ranges of ``mod total``: member with weight w gets w slots."""
    total, parts = 0, []
    for m in members:
        first, last = total, total + m.weight - 1
        parts.append(f"{first}-{last}" if last > first else str(first))
        total += m.weight
    return total, parts


def _pick(listener: NftListener, members: tuple[NftMember, ...], l3: str) -> str:
    total, ranges = _slots(members)
    targets = ", ".join(
        f"{r} : goto {chain_name(listener)}_m{_hex(m.id)}"
        for r, m in zip(ranges, members, strict=True)
    )
    if listener.algorithm == ROUND_ROBIN:
        chooser = f"numgen inc mod {total}"
    elif listener.algorithm == SOURCE_IP:
        chooser = f"jhash {l3} saddr mod {total} seed {_seed(listener)}"
    else:
        chooser = f"jhash {l3} saddr . udp sport mod {total} seed {_seed(listener)}"
    return f"{chooser} vmap {{ {targets} }}"


def _key(listener: NftListener, l3: str) -> str:
    """The persistence key: the client's address, masked by the granularity."""
    mask = ipaddress.ip_address(listener.sticky_mask)
    if int(mask) == (1 << mask.max_prefixlen) - 1:
        return f"{l3} saddr"
    return f"{l3} saddr and {mask}"


def _to(address: str, port: int) -> str:
    """A DNAT target: ``192.0.2.1:53``, ``[2001:db8::1]:53``."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def objects(plan: NftPlan, down: Iterable[str] = ()) -> set[tuple[str, str]]:
    """The stateful objects the ruleset declares: ``("counter"|"map"|"ct timeout", name)``."""
    dead = set(down)
    out: set[tuple[str, str]] = set()
    for li in plan.listeners:
        out.add(("counter", flows_counter(li)))
        policy = timeout_policy(li)
        if policy is not None:
            out.add(("ct timeout", policy))
        for m in li.members:
            out.update(("counter", name) for name in counter_names(li, m))
        if li.sticky_timeout is not None:
            out.add(("map", sticky_map(li, serving(li, dead))))
    return out


def ruleset(
    plan: NftPlan, down: Iterable[str] = (), existing: Iterable[tuple[str, str]] = ()
) -> str:
    """Pure: the whole ``nft -f`` file, one transaction (``flush table`` then the table).

    ``down``: member ids the probes found dead. ``existing``: the objects the
    table holds now, so those the plan no longer names are deleted.
    """
    dead = set(down)
    table = f"{plan.family} {plan.table}"
    l3 = plan.family  # the match keyword: ip saddr, ip6 saddr
    version = 6 if plan.family == "ip6" else 4
    wanted = objects(plan, dead)
    marks = flow_marks(plan)
    lines = [f"table {table} {{", "}", f"flush table {table}"]
    for kind, name in sorted(set(existing) - wanted):
        lines.append(f"delete {kind} {table} {name}")
    lines.append(f"table {table} {{")
    body: list[str] = []
    for kind, name in sorted(wanted):
        if kind == "counter":
            body.append(f"counter {name} {{\n}}")
    for li in plan.listeners:
        policy = timeout_policy(li)
        if policy is not None:
            seconds = li.idle_timeout
            body.append(
                f"ct timeout {policy} {{\n"
                f"\tprotocol udp\n\tl3proto {l3}\n"
                f"\tpolicy = {{ unreplied : {seconds}, replied : {seconds} }}\n"
                "}"
            )
    guard: list[str] = []
    dispatch: list[str] = []
    stats: list[str] = []
    counted: list[str] = []
    snat: list[str] = []
    accept: list[str] = []
    chains: list[str] = []
    for li in plan.listeners:
        match = f"{l3} daddr {li.vip} udp dport {li.port}"
        members = serving(li, dead)
        chain = chain_name(li)
        sticky = sticky_map(li, members) if li.sticky_timeout is not None else None
        if sticky is not None:
            body.append(
                f"map {sticky} {{\n"
                f"\ttype ipv{version}_addr : mark\n"
                "\tflags dynamic,timeout\n"
                f"\ttimeout {li.sticky_timeout}s\n"
                "}"
            )
        mine = [c for c in li.allowed_cidrs if ipaddress.ip_network(c).version == version]
        if li.allowed_cidrs:
            allowed = f"{{ {', '.join(mine)} }}" if mine else None
            guard.append(
                f"{match} {l3} saddr != {allowed} drop" if allowed else f"{match} drop",
            )
        if li.connection_limit is not None:
            guard.append(f"{match} ct state new ct count over {li.connection_limit} drop")
        policy = timeout_policy(li)
        timeout = f' ct timeout set "{policy}"' if policy is not None else ""
        dispatch.append(f'{match} counter name "{flows_counter(li)}"{timeout} jump {chain}')
        rules = []
        if sticky is not None and members:
            to_member = ", ".join(
                f"{marks[(li.id, m.id)]:#010x} : {m.address} . {m.port}" for m in members
            )
            rules.append(f"ct mark set {_key(li, l3)} map @{sticky}")
            rules.append(f"meta l4proto udp dnat {l3} to ct mark map {{ {to_member} }}")
        if members:
            rules.append(_pick(li, members, l3))
        rules.append("drop")
        chains.append(_chain(chain, rules))
        for m in members:
            mrules = []
            mark = f"{marks[(li.id, m.id)]:#010x}"
            if sticky is not None:
                mrules.append(f"update @{sticky} {{ {_key(li, l3)} : {mark} }}")
            target = _to(m.address, m.port)
            mrules.append(f"ct mark set {mark} meta l4proto udp dnat {l3} to {target}")
            chains.append(_chain(f"{chain}_m{_hex(m.id)}", mrules))
        for m in li.members:
            mark = f"{marks[(li.id, m.id)]:#010x}"
            count_in, count_out = counter_names(li, m)
            counted.append(f'original . {mark} : "{count_in}"')
            counted.append(f'reply . {mark} : "{count_out}"')
        if sticky is not None and members:
            own = ", ".join(f"{marks[(li.id, m.id)]:#010x}" for m in members)
            stats.append(
                f"ct direction original ct mark {{ {own} }} "
                f"update @{sticky} {{ {_key(li, l3)} : ct mark }}"
            )
        ours = (
            f"ct status dnat ct original {l3} daddr {li.vip} ct protocol udp "
            f"ct original proto-dst {li.port}"
        )
        accept.append(f"{ours} accept")
        snat.append(f"{ours} masquerade")
    if guard:  # an empty base chain would still cost every datagram a hook call
        body.append(
            _chain("guard", guard, "type filter hook prerouting priority -150; policy accept;")
        )
    body.append(
        _chain("dispatch", dispatch, "type nat hook prerouting priority dstnat; policy accept;")
    )
    body.extend(chains)
    if counted:
        stats.append(f"counter name ct direction . ct mark map {{ {', '.join(counted)} }} accept")
    body.append(
        _chain("stats", stats + accept, "type filter hook forward priority filter; policy drop;")
    )
    body.append(
        _chain("return_path", snat, "type nat hook postrouting priority srcnat; policy accept;")
    )
    for block in body:
        lines.extend("\t" + line for line in block.split("\n"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chain(name: str, rules: list[str], head: str | None = None) -> str:
    inner = ([head] if head else []) + rules
    return "\n".join([f"chain {name} {{", *("\t" + r for r in inner), "}"])
