"""The compute seam: where an amphora runs.

The controller sees only this Protocol. ``local`` runs the agent and HAProxy as
processes on this host; a Nova or Kubernetes driver would implement the same
four calls. Every call is idempotent: create an amphora that exists and it is
left alone, delete one that is gone and nothing happens.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hydria.wire.agent_api import AmphoraBoot


class ComputeDriver(Protocol):
    def create(self, boot: AmphoraBoot) -> str:
        """Start the amphora (or find it running); return its compute id."""
        ...

    def is_running(self, amphora_id: str) -> bool:
        """True while the amphora's agent process is alive."""
        ...

    def delete(self, amphora_id: str) -> None:
        """Stop the amphora and remove what it left on the host."""
        ...

    def list_ids(self) -> list[str]:
        """Ids of every amphora this driver knows on this host (for orphan sweeps)."""
        ...

    def stop_all(self) -> None:
        """Stop every amphora but keep their state (a clean stop of ``hydria up``)."""
        ...


@runtime_checkable
class LeavesStrays(Protocol):
    """A driver whose instances can outlive their folder (``netns``: a namespace
    whose folder went while the namespace stayed, after a crash in between)."""

    def delete_strays(self, older_than: float) -> list[str]:
        """Delete this deployment's instances that have no folder and are older
        than ``older_than`` seconds; their names."""
        ...


@runtime_checkable
class Fences(Protocol):
    """A driver that can cut an amphora off at once (links down, processes killed),
    as a failover of an ACTIVE_STANDBY amphora needs before anything else."""

    def fence(self, amphora_id: str) -> None: ...


@runtime_checkable
class SignalsBoot(Protocol):
    """A driver that hears when an amphora it started is ready to be asked (``local``:
    the agent writes to a pipe once it listens), so the controller need not poll its
    agent while it boots."""

    def wait_booted(self, amphora_id: str, timeout: float) -> None:
        """Return once the amphora this driver started says it listens (or its start
        failed, or ``timeout`` passed, or it was not started here): the caller then
        asks its agent as before."""
        ...
