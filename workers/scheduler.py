"""The scheduler loop: every tick it claims due timers and hands them to a dispatcher; every
`sweep_every` seconds it also re-dispatches timers whose job was lost, syncs timer start events and
launches due ones, hands out queued migrations and customer imports (and imports whose job was lost);
and it hands out committed outbox messages.

Run as many as you like (`followup scheduler`, or `followup worker --with-scheduler`): claims skip rows
another scheduler holds. The dispatcher is RQ (`workers.queues.RqDispatch`) or, in the embedded mode, this very
thread (`InlineDispatch`, see workers.inprocess).
"""
import logging
import threading
import time

from engine import clock
from engine.background import outbox as outbox_store
from engine.background.launchers import Launchers
from engine.background.timers import claim_due, purge_spent_due_counts, sweep
from engine.background.firing import run_timers

from workers.config import WorkerConfig

log = logging.getLogger(__name__)


class InlineDispatch:
    """Runs the work right here: the embedded mode's 'queue'."""

    def __init__(self, engine, config: WorkerConfig, send=None):
        self.engine, self.config = engine, config
        self._send = send

    def timers(self, batches):
        for batch in batches:
            run_timers(self.engine, batch.timer_ids, self.config.timers)

    def messages(self, jobs):
        if not jobs:
            return
        if self._send is None:
            from engine.background.webhooks import load_channels, sender

            self._send = sender(load_channels())
        for _, ids in jobs:
            for message_id in ids:
                outbox_store.deliver(self.engine.db, message_id, self._send, self.config.outbox)

    def migrations(self, batch_ids):
        for batch_id in batch_ids:
            self.engine.migrations.run(batch_id)

    def imports(self, claims):
        # Like a migration, on this thread: timers wait while a big import runs (use Redis for both at once).
        for batch_id, job_id in claims:
            self.engine.run_import(batch_id, job_id)

    def live(self, job_ids):
        return set()  # inline work finishes within the tick; a lease that ran out means a crash


class Scheduler:
    def __init__(self, engine, dispatch, config: WorkerConfig | None = None, on_sweep=None):
        self.engine = engine
        self.on_sweep = on_sweep  # called after each sweep (a liveness beacon for operators and tests)
        self.dispatch = dispatch
        self.config = config or WorkerConfig.from_env()
        self.launchers = Launchers(engine)
        self._next_sweep = 0.0
        self.claimed = 0

    def tick(self, sweep_now=None) -> int:
        """One round; returns how many timers it claimed."""
        db, config = self.engine.db, self.config
        batches = claim_due(db, clock.now(), config.timers, config.claim_limit)
        self.dispatch.timers(batches)
        claimed = sum(len(b.timer_ids) for b in batches)
        self.claimed += claimed
        if sweep_now or (sweep_now is None and time.monotonic() >= self._next_sweep):
            self._next_sweep = time.monotonic() + config.sweep_every
            self.dispatch.timers(sweep(db, clock.now(), config.timers, self.dispatch.live, config.claim_limit))
            purge_spent_due_counts(db, clock.now())
            self.launchers.sync()
            self.launchers.launch_due()
            self.dispatch.migrations(self.engine.migrations.claim_queued())
            self.dispatch.imports(self.engine.imports.claim_queued() + self.engine.imports.sweep(self.dispatch.live))
            if self.on_sweep is not None:
                self.on_sweep()
        self.dispatch.messages(outbox_store.claim(db, clock.now(), config.outbox))
        return claimed

    def run(self, stop: threading.Event):
        """Tick until `stop` is set; a failing tick (database or Redis down) is logged and retried."""
        while not stop.is_set():
            try:
                busy = self.tick() >= self.config.claim_limit
            except Exception:  # noqa: BLE001 - the loop must outlive an outage
                log.exception("scheduler tick failed; retrying in a second")
                stop.wait(1.0)
                continue
            if not busy:
                stop.wait(self.config.tick)
