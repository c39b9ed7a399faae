"""``python -m hydria.agent amphora-agent --dir FOLDER``: the agent without the CLI.

The compute driver starts every amphora's agent this way: the same ``run`` as
``hydria amphora-agent``, without importing click and the command table, so
each of a fleet's agents costs that much less memory and start-up time (the
agent imports only ``hydria.core``, ``hydria.wire`` and the standard library).
The ``amphora-agent`` word is kept so the process reads as what it is in ``ps``.
``zygote`` runs the warm process the ``local`` driver forks its agents from
(``hydria.agent.zygote``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydria.agent")
    parser.add_argument(
        "command", nargs="?", choices=["amphora-agent", "zygote"], default="amphora-agent"
    )
    parser.add_argument(
        "--dir",
        dest="folder",
        type=Path,
        required=True,
        help="The amphora's folder (boot.json, TLS material, HAProxy files); for the "
        "zygote, the folder of the amphorae it may start.",
    )
    parser.add_argument(
        "--control",
        type=int,
        help="zygote: the descriptor of the socket its driver sends requests on.",
    )
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"--dir {args.folder}: not a folder")
    if args.command == "zygote":
        if args.control is None:
            parser.error("zygote needs --control")
        from hydria.agent.zygote import main as zygote

        return zygote(args.control, args.folder)
    from hydria.agent.main import run

    return run(args.folder)


if __name__ == "__main__":
    sys.exit(main())
