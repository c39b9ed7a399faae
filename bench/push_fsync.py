"""What the fsync of the configuration costs a push, in the agent's own ``ConfigStore``.

One real HAProxy; pushes alternate between the agent as it is (the configuration
fsynced before its rename) and the baseline in the same run (renamed only), on
both of a push's paths: a change only in a comment (taken through the runtime
API, no reload: where the fsync weighs most) and a change of a timeout (a
reload). Prints p50/p95 of ``ConfigStore.apply`` for each and the ratio.

    .venv/bin/python bench/push_fsync.py [--pushes 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _harness import free_port, load, percentile

from hydria.agent import config_store
from hydria.agent.config_store import ConfigStore
from hydria.agent.haproxy import HAProxyProcess
from hydria.wire.amphora_layout import AmphoraLayout

_durable_write = config_store._atomic_write
PORT = free_port()


def _renamed_only(path: Path, data: bytes, *, durable: bool = False) -> None:
    _durable_write(path, data)


def config(layout: AmphoraLayout, version: int, timeout: int) -> bytes:
    return (
        f"# version {version}\n"
        "global\n"
        f"    stats socket {layout.stats_socket} mode 600 level admin expose-fd listeners\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout server 5s\n"
        f"    timeout client {timeout}s\n"
        f"frontend f\n    bind 127.0.0.1:{PORT}\n    default_backend b\n"
        "backend b\n    balance roundrobin\n    server m1 127.0.0.1:9 weight 1\n"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=40)
    args = parser.parse_args()
    layout = AmphoraLayout(Path(tempfile.mkdtemp(prefix="hydria-fsync-")))
    store = ConfigStore(layout, HAProxyProcess(layout))
    version, timeout = 1, 5
    store.apply(config(layout, version, timeout), version)
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.pushes):
            for path in ("runtime", "reload"):
                for kind, write in (("fsync", _durable_write), ("rename only", _renamed_only)):
                    config_store._atomic_write = write
                    version += 1
                    timeout += path == "reload"
                    text = config(layout, version, timeout)
                    start = time.perf_counter()
                    store.apply(text, version)
                    times.setdefault((path, kind), []).append(time.perf_counter() - start)
    finally:
        config_store._atomic_write = _durable_write
        store.remove()
    print(f"one push, ConfigStore.apply ({load()})")
    for path in ("runtime", "reload"):
        base = times[(path, "rename only")]
        for kind in ("rename only", "fsync"):
            t = times[(path, kind)]
            print(
                f"  {path:8s} {kind:12s} p50 {statistics.median(t) * 1000:7.1f} ms  "
                f"p95 {percentile(t, 95) * 1000:7.1f} ms  "
                f"ratio p50 {statistics.median(t) / statistics.median(base):4.2f}x  n={len(t)}"
            )


if __name__ == "__main__":
    main()
