"""``bench/failover.py --topology ACTIVE_STANDBY``'s printout: both topologies'
figures from one run, and where each one's time went."""

from __future__ import annotations

from _harness import percentile
from _netns_failover import Measured


def _ms(values: list[float | None]) -> str:
    got = [v * 1000 for v in values if v is not None]
    if not got:
        return "-"
    return (
        f"min {min(got):5.0f}  p50 {percentile(got, 50):5.0f}  p95 {percentile(got, 95):5.0f} ms"
        f"  (n={len(got)})"
    )


def _s(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    return (
        f"min {min(got):5.2f}  p50 {percentile(got, 50):5.2f}  p95 {percentile(got, 95):5.2f} s"
        f"  (n={len(got)})"
    )


def report(m: Measured, *, advert_int: float, interval: float, timeout: float, spares: int) -> None:
    standby, single = m.standby, m.single
    loads = "  ".join("/".join(f"{x:.1f}" for x in la) for la in m.load)
    print(
        f"settings: heartbeat_interval {interval:g} s, heartbeat_timeout {timeout:g} s, "
        f"spares {spares}, vrrp advert_int {advert_int:g} s; load (1/5/15 min) before AS and SINGLE: {loads}"
    )
    print("ACTIVE_STANDBY: SIGKILL of the MASTER ->")
    w = standby.wire
    print(f"  victim's last VRRP advert      {_ms([b.last_advert for b in w])}")
    print(f"  survivor's first advert (MASTER) {_ms([b.became_master for b in w])}")
    print(f"  survivor's gratuitous ARP      {_ms([b.garp for b in w])}")
    print(f"  client's first SYN after it    {_ms([b.syn_after_garp for b in w])}")
    print(f"  survivor's first SYN+ACK       {_ms([b.first_synack for b in w])}")
    print(f"  first 200 via the VIP          {_ms(list(standby.times))}")
    print(
        f"  client tries refused p50 {percentile(standby.refused, 50)}, "
        f"timed out (50 ms connect) max {max(standby.timed_out)}; "
        f"false takeovers between runs {standby.false_takeovers}; "
        f"all runs ms: {[round(t * 1000) for t in standby.times]}"
    )
    if not single.times:
        return
    print("SINGLE (same run, baseline): SIGKILL ->")
    st = single.steps
    print(f"  marked for failover (detect)   {_s([x.marked for x in st])}")
    print(f"  failover started (controller)  {_s([x.started for x in st])}")
    print(f"  VIP plugged + GARP (new amph.) {_s([x.plugged for x in st])}")
    print(f"  configuration pushed           {_s([x.pushed for x in st])}")
    print(f"  first 200 via the VIP          {_s(list(single.times))}")
    print(f"  replacements that were spares  {sum(x.spare for x in st)}/{len(st)}")
    c = m.cost
    print(
        f"heartbeat cost: {c.packets_per_s:.2f} packets/s per amphora per health manager, "
        f"{c.frame_bytes:.0f} bytes per frame ({c.packets_per_s * c.frame_bytes * 8 / 1000:.1f}"
        f" kbit/s per amphora), seen from {c.amphorae} amphorae"
    )
    print(
        f"ratio ACTIVE_STANDBY/SINGLE: p50 "
        f"{percentile(standby.times, 50) / percentile(single.times, 50):.3f}x  p95 "
        f"{percentile(standby.times, 95) / percentile(single.times, 95):.3f}x"
    )
