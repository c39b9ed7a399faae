"""The health manager as one service: receiver, batch writer, failure detector.

``HealthService(db, options).run(stop)`` binds the UDP socket (at construction,
so a port in use is an error at start-up), then runs three threads until
``stop`` is set: the amphora directory (``directory.py``), the receiver
(``receiver.py``), the agent sequence confirmer (``seqs.py``), the writer that flushes the
verified heartbeats in batches (``writer.py``), and the failure detector
(``failure_detector.py``) that marks silent amphorae for failover and wakes the
controllers. Every ``counters_log_interval`` seconds it logs
its counters as ``event=health_counters``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hydria.db.engine import Database
from hydria.health.counters import Counters
from hydria.health.directory import AmphoraDirectory
from hydria.health.failure_detector import DetectorOptions, FailureDetector
from hydria.health.metrics import track
from hydria.health.receiver import HeartbeatReceiver, bind_udp
from hydria.health.seqs import AskAgent, SeqConfirmer, SeqTracker
from hydria.health.writer import HeartbeatWriter, PendingHeartbeats, flush_ceiling
from hydria.wire.heartbeat_keys import AmphoraKeys

log = logging.getLogger("hydria.health")


@dataclass(frozen=True)
class HealthOptions:
    bind: str
    # the deployment's key: each amphora's is derived from it and its id
    heartbeat_key: bytes
    failures: DetectorOptions = DetectorOptions()
    flush_interval: float = 0.25
    detect_failures: bool = True
    counters_log_interval: float = 60.0
    directory_refresh: float = 2.0


class HealthService:
    def __init__(
        self,
        db: Database,
        options: HealthOptions,
        *,
        notify: Callable[[str], None] | None = None,
        ask_agent: AskAgent | None = None,
    ) -> None:
        """``ask_agent(address, amphora_id)`` asks an agent over mutual TLS for the
        last heartbeat ``seq`` it sent (``hydria.health.seqs``); without it a
        heartbeat far ahead of the last one is never believed."""
        self.db = db
        self.options = options
        # wakes the controllers when an amphora is marked for failover
        self.notify = notify
        self.counters = Counters()
        track(self.counters)
        self.seqs = SeqTracker()
        self.pending = PendingHeartbeats()
        self.sock = bind_udp(options.bind)
        self.address = self.sock.getsockname()[:2]
        self.directory = AmphoraDirectory(db, self.seqs, refresh_interval=options.directory_refresh)
        self.confirmer = (
            None if ask_agent is None else SeqConfirmer(db, self.seqs, ask_agent, self.counters)
        )
        self.receiver = HeartbeatReceiver(
            self.sock,
            AmphoraKeys(options.heartbeat_key),
            self.pending,
            self.seqs,
            self.counters,
            self.directory,
            confirmer=self.confirmer,
        )
        self.writer = HeartbeatWriter(db, self.counters, seqs=self.seqs)

    def run(self, stop: threading.Event) -> None:
        o = self.options
        try:  # before the first packet, so the fleet's heartbeats count at once
            self.directory.refresh()
        except Exception:  # the database may be away: the directory's thread retries
            log.exception("event=amphora_directory_refresh_failed")
        threads = [
            threading.Thread(
                target=self.directory.run, args=(stop,), name="health-directory", daemon=True
            ),
            threading.Thread(
                target=self.receiver.run, args=(stop,), name="health-receiver", daemon=True
            ),
            threading.Thread(
                target=self.writer.run,
                args=(self.pending, stop),
                kwargs={
                    "flush_interval": o.flush_interval,
                    "max_flush_interval": flush_ceiling(
                        o.flush_interval, o.failures.heartbeat_timeout
                    ),
                },
                name="health-writer",
                daemon=True,
            ),
        ]
        if self.confirmer is not None:
            threads.append(
                threading.Thread(
                    target=self.confirmer.run,
                    args=(stop,),
                    name="health-seq-confirmer",
                    daemon=True,
                )
            )
        detector = None
        if o.detect_failures:
            detector = FailureDetector(self.db, o.failures, notify=self.notify)
            threads.append(
                threading.Thread(
                    target=detector.run, args=(stop,), name="failure-detector", daemon=True
                )
            )
        for t in threads:
            t.start()
        log.info(
            "event=health_start bind=%s:%s failure_detector=%s", *self.address, detector is not None
        )
        try:
            while not stop.wait(o.counters_log_interval):
                log.info(
                    "event=health_counters %s",
                    " ".join(f"{k}={v}" for k, v in self.counters.snapshot().items() if v),
                )
        finally:
            for t in threads:
                t.join(timeout=10)
            self.sock.close()
            log.info("event=health_stop")
