"""A ``GET`` of one PENDING_* object answers once its load balancer has settled.

Clients wait for a change by polling: they ``GET`` at once, and if the object
is still PENDING_* they sleep (the ``openstack`` CLI's ``--wait`` 3 s,
openstacksdk's ``wait_for_status`` 2 s by default) before they look again. A
change converged in a tenth of a second is then seen seconds later. So the
read waits, without holding a thread, until the controller says the load
balancer settled (``hydria.db.settle``), then reads again and answers; at
most ``api_settle_wait`` seconds in all, after which it answers what it
reads, PENDING_* included, as before. Objects that are not pending, and
every list, are answered at once; with no settle signal (a separate API
process on SQLite) or a wait of 0 nothing waits.

A pending delete that settles answers 404, as the client's ``wait_for_delete``
expects.

``once`` runs in the thread pool, unless the caller says it is ``inline``: a
read that waits on nothing but the CPU (``Database.lone_read`` on SQLite: one
statement on a connection of its own, no lock) runs on the event loop, which
spares the two thread switches that cost more than the read itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from hydria.services.pending import is_pending, load_balancer_of, named_in_answer
from hydria.services.unit import Env


async def settled_answer(
    env: Env,
    root: str,
    ids: Sequence[str],
    once: Callable[[], dict[str, Any]],
    *,
    inline: bool = False,
) -> dict[str, Any]:
    """``once()`` (a read, run in the thread pool unless ``inline``), again after each
    settle of the object's load balancer while it is pending, within ``api_settle_wait``."""

    async def read() -> dict[str, Any]:
        return once() if inline else await run_in_threadpool(once)

    board = env.settle
    budget = env.settings.api_settle_wait
    if board is None or budget <= 0:
        return await read()
    deadline = time.monotonic() + budget
    lb_id: str | None = None
    while True:
        mark = board.mark()  # before the read: a settle after it is not missed
        found = await read()
        left = deadline - time.monotonic()
        if not is_pending(found) or left <= 0:
            return found
        if lb_id is None:
            # a thread only where the answer does not name it (a member's: a query)
            lb_id = named_in_answer(root, found) or await run_in_threadpool(
                load_balancer_of, env, root, ids, found
            )
            if lb_id is None:
                return found
        await board.wait(lb_id, after=mark, timeout=left)
