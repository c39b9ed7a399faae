"""What the agent does alike for every engine it runs: run its tool, end its master.

HAProxy (``hydria.agent.haproxy``), nginx (``hydria.agent.nginx``) and ``nft``
(``hydria.agent.nft``) are each checked and started by running their binary
and reading its exit status and output, and the two daemons are stopped the
same way. The errors stay each caller's (``error`` when the tool could not run
or failed, ``refused`` when it refused the configuration), so the agent's API
keeps answering 400 for a refused text and 503 for an engine that would not run.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Sequence

from hydria.core.procs import signal_and_wait

#: How much of a tool's output an error keeps (the end: where the reason is).
OUTPUT_TAIL = 4000

ErrorType = Callable[[str, str], Exception]


def output_of(res: subprocess.CompletedProcess[str]) -> str:
    return (res.stdout + res.stderr).strip()[-OUTPUT_TAIL:]


def run_tool(
    cmd: Sequence[str],
    *,
    name: str,
    failed: str,
    error: ErrorType,
    refused: ErrorType | None = None,
    timeout: float = 60,
    ok_codes: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; ``error("<name> could not run")`` if it cannot, and on an exit
    status not in ``ok_codes`` ``refused`` (or ``error``) with ``failed`` and the
    tail of its output."""
    try:
        res = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"{name} could not run", str(exc)) from exc
    if res.returncode not in ok_codes:
        raise (refused or error)(failed, output_of(res))
    return res


def terminate(pid: int | None, *, timeout: float) -> None:
    """SIGTERM ``pid``, wait for it at most ``timeout`` seconds, then SIGKILL it."""
    if pid is None or signal_and_wait(pid, signal.SIGTERM, timeout=timeout):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
