"""The scheduler loop: every tick it claims due timers and hands them to a dispatcher; every
`sweep_every` seconds it also re-dispatches timers whose job was lost, syncs timer start events and
launches due ones, hands out queued migrations and customer imports (and imports whose job was lost);
and it hands out committed outbox messages.

Run as many as you like (`followup scheduler`, or `followup worker --with-scheduler`): claims skip rows
another scheduler holds. The dispatcher is RQ (`workers.queues.RqDispatch`) or, in the embedded mode, this very
thread (`InlineDispatch`, see workers.inprocess), with migrations and imports on a thread of their own (`LongJobs`).
"""
import logging
import queue
import threading
import time

from engine import clock
from engine.background import outbox as outbox_store
from engine.background.launchers import Launchers
from engine.background.timers import claim_due, purge_spent_due_counts, sweep
from engine.background.firing import run_timers

from workers.config import WorkerConfig

log = logging.getLogger(__name__)


class LongJobs:
    """The embedded mode's thread for long jobs, migrations and customer imports, one after the other, so
    that timers and messages keep going on the scheduler's thread while a 50,000-row import runs. A job's
    id counts as live (its import keeps its lease) from its submission to its end. The thread is a daemon:
    a job cut short by the process ending is resumed by the next start, as after any crash."""

    def __init__(self):
        self.live = set()
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="followup-long-jobs", daemon=True)
        self._thread.start()

    def submit(self, job_id, call, *args):
        self.live.add(job_id)
        self._jobs.put((job_id, call, args))

    def stop(self):
        """End the thread after the job it runs (the ones still waiting are left to the next start)."""
        self._jobs.put(None)

    def join(self, timeout=None):
        self._thread.join(timeout)

    def _work(self):
        while (job := self._jobs.get()) is not None:
            job_id, call, args = job
            try:
                call(*args)
            except Exception:  # noqa: BLE001 - the job records its own failure; the thread goes on
                log.exception("long job %s failed", job_id)
            finally:
                self.live.discard(job_id)


class InlineDispatch:
    """Runs the work right here: the embedded mode's 'queue'. `long_jobs`: a `LongJobs` for migrations and
    imports (the in-process runner); without it they run on this thread too (`run_due`: tests, the CLI)."""

    def __init__(self, engine, config: WorkerConfig, send=None, long_jobs: LongJobs | None = None):
        self.engine, self.config = engine, config
        self._send = send
        self.long_jobs = long_jobs

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
            self._run_long(f"migration-{batch_id}", self.engine.migrations.run, batch_id)

    def imports(self, claims):
        for batch_id, job_id in claims:
            self._run_long(job_id, self.engine.run_import, batch_id, job_id)

    def _run_long(self, job_id, call, *args):
        if self.long_jobs is None:
            call(*args)
        else:
            self.long_jobs.submit(job_id, call, *args)

    def live(self, job_ids):
        # Work on this thread finishes within the tick, so a lease that ran out means a crash; a long job
        # lives until its thread ends it.
        return set(job_ids) & self.long_jobs.live if self.long_jobs is not None else set()


class Scheduler:
    def __init__(self, engine, dispatch, config: WorkerConfig | None = None, on_sweep=None):
        self.engine = engine
        self.on_sweep = on_sweep  # called after each sweep (a liveness beacon for operators and tests)
        self.dispatch = dispatch
        self.config = config or WorkerConfig.from_env()
        self.launchers = Launchers(engine)
        self._next_sweep = 0.0
        self.claimed = 0
        self.round_started = None  # time.monotonic() when the round now running began; None between rounds

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

    def stuck_for(self) -> float:
        """Seconds the round now running has taken (0 between rounds): a round that never ends (a database
        call or a webhook that hangs) stops every deadline of this scheduler; /api/health reports it."""
        started = self.round_started
        return 0.0 if started is None else time.monotonic() - started

    def run(self, stop: threading.Event):
        """Tick until `stop` is set; a failing tick (database or Redis down) is logged and retried."""
        while not stop.is_set():
            self.round_started = time.monotonic()
            try:
                busy = self.tick() >= self.config.claim_limit
            except Exception:  # noqa: BLE001 - the loop must outlive an outage
                log.exception("scheduler tick failed; retrying in a second")
                stop.wait(1.0)
                continue
            finally:
                self.round_started = None
            if not busy:
                stop.wait(self.config.tick)
