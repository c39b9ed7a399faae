"""What a member change costs in the amphora: HAProxy's runtime API against a reload.

One real HAProxy under the agent's ``ConfigStore``, a listener and a pool of two
back-ends; each round adds a member then removes it again. Taken side by side in
the same run, alternating: the change alone (the agent sends it through the
runtime API: ``add server``/``del server``), and the same change with the
listener's client timeout nudged too, which only a reload can apply (the
baseline: what every member change cost before). The figure is the time of
``ConfigStore.apply``, what the controller's ``PUT /1.0/config`` waits for.

    .venv/bin/python bench/member_change.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _harness import backends, free_port, percentile, summary

from hydria.agent.config_store import ConfigStore
from hydria.agent.haproxy import HAProxyProcess
from hydria.wire.amphora_layout import AmphoraLayout


def config(store: ConfigStore, port: int, servers: list[tuple[str, int]], timeout: int) -> bytes:
    lines = "".join(f"    server m{i} {h}:{p} weight 1\n" for i, (h, p) in enumerate(servers))
    return (
        f"global\n    stats socket {store.layout.stats_socket} mode 600 level admin "
        "expose-fd listeners\ndefaults\n    mode http\n    timeout connect 5s\n"
        f"    timeout server 50s\nfrontend f\n    bind 127.0.0.1:{port}\n"
        f"    timeout client {timeout}\n    default_backend b\n"
        f"backend b\n    balance roundrobin\n{lines}"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    runtime: list[float] = []
    reload: list[float] = []
    with backends(2) as members, tempfile.TemporaryDirectory(prefix="hydria-bench-") as tmp:
        layout = AmphoraLayout(Path(tmp) / "amp")
        layout.root.mkdir()
        store = ConfigStore(layout, HAProxyProcess(layout))
        port, version, timeout = free_port(), 1, 50000
        store.apply(config(store, port, members[:1], timeout), version)
        try:
            for _ in range(args.rounds):
                for samples, nudge in ((runtime, 0), (reload, 1)):
                    for servers in (members, members[:1]):  # add, then remove
                        version += 1
                        timeout += nudge
                        text = config(store, port, servers, timeout)
                        t0 = time.perf_counter()
                        store.apply(text, version)
                        samples.append(time.perf_counter() - t0)
        finally:
            store.haproxy.stop()
    print(f"member change through the runtime API:        {summary(runtime)}")
    print(f"same change with a reload (baseline, before): {summary(reload)}")
    print(
        f"ratio (reload / runtime): p50 {percentile(reload, 50) / percentile(runtime, 50):.1f}x "
        f"p95 {percentile(reload, 95) / percentile(runtime, 95):.1f}x; "
        f"changes without a reload: {store.runtime_changes} of {len(runtime)}"
    )


if __name__ == "__main__":
    main()
