"""In-process benchmarks that compare this checkout with another one, same run.

``reads.py`` and ``writes.py`` time their own ``--worker`` in a fresh interpreter
per checkout (``PYTHONPATH`` names the checkout, so its ``hydria`` is the one
timed), alternating the checkouts round by round as the machine's load drifts,
and print each figure's median with the ratio baseline / subject.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

Samples = dict[str, dict[str, list[float]]]


def parser(description: str, requests: int, per: str) -> argparse.ArgumentParser:
    """The options every such benchmark takes: ``--baseline``, ``--rounds``,
    ``--requests`` (``per``: what one counts) and ``--worker``."""
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--baseline", type=Path, help="another checkout (main) to compare with")
    made.add_argument("--rounds", type=int, default=3)
    made.add_argument("--requests", type=int, default=requests, help=per)
    made.add_argument("--worker", action="store_true", help="time this process's tree only")
    return made


def trees(baseline: Path | None, subject: Path) -> dict[str, Path]:
    return {"baseline": baseline, "subject": subject} if baseline else {"subject": subject}


def rounds(
    script: Path, checkouts: dict[str, Path], count: int, flags: list[str]
) -> tuple[Samples, list[float]]:
    """``count`` rounds of ``script --worker *flags`` in each checkout; the figures
    each printed (its last line, JSON) and the 1-minute load after each."""
    samples: Samples = {name: {} for name in checkouts}
    loads = []
    for _ in range(count):
        for name, tree in checkouts.items():
            env = dict(
                os.environ, PYTHONPATH=f"{tree}:{script.parent}", PYTHONDONTWRITEBYTECODE="1"
            )
            done = subprocess.run(
                [sys.executable, str(script), "--worker", *flags],
                env=env,
                cwd=tree,
                check=True,
                capture_output=True,
                text=True,
            )
            for key, ms in json.loads(done.stdout.strip().splitlines()[-1]).items():
                samples[name].setdefault(key, []).append(ms)
            loads.append(os.getloadavg()[0])
    return samples, loads


def print_medians(samples: Samples, keys: Iterable[str], width: int, loads: list[float]) -> None:
    names = list(samples)
    print(f"{'':{width}s}" + "".join(f"{name:>12s}" for name in names) + "       ratio")
    for key in keys:
        ms = {name: statistics.median(samples[name][key]) for name in names}
        ratio = ms["baseline"] / ms["subject"] if "baseline" in ms else float("nan")
        print(f"{key:{width}s}" + "".join(f"{v:12.2f}" for v in ms.values()) + f"{ratio:11.2f}x")
    print(f"load average (1 min) during the rounds: {min(loads):.1f} .. {max(loads):.1f}")
