"""The embedded mode (no Redis): the scheduler and the timer and outbox jobs on one background thread
of the serving process, the same code as `followup scheduler` + `followup worker`; migrations and
customer imports on a second one (`LongJobs`), so a big import does not hold the timers up.

    handle = start_background(engine)
    ...
    handle.stop()
"""
import threading

from workers.config import WorkerConfig
from workers.scheduler import InlineDispatch, LongJobs, Scheduler


class BackgroundHandle:
    def __init__(self, thread, stop_event, scheduler, long_jobs):
        self.thread, self._stop, self.scheduler, self.long_jobs = thread, stop_event, scheduler, long_jobs

    def stop(self, timeout=10.0):
        self._stop.set()
        self.thread.join(timeout)
        self.long_jobs.stop()
        self.long_jobs.join(timeout)

    @property
    def running(self):
        return self.thread.is_alive()


def start_background(engine, config: WorkerConfig | None = None, send=None) -> BackgroundHandle:
    """Start the in-process runner on a daemon thread; returns a handle whose `stop()` ends it."""
    config = config or WorkerConfig.from_env()
    long_jobs = LongJobs()
    scheduler = Scheduler(engine, InlineDispatch(engine, config, send, long_jobs), config)
    stop_event = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop_event,), name="followup-timers", daemon=True)
    thread.start()
    return BackgroundHandle(thread, stop_event, scheduler, long_jobs)


def run_due(engine, config: WorkerConfig | None = None, send=None) -> int:
    """Fire everything due now, sweep, launch and deliver, in this thread (tests, `followup timers run`).
    Returns how many timers were claimed."""
    config = config or WorkerConfig.from_env()
    scheduler = Scheduler(engine, InlineDispatch(engine, config, send), config)
    total = 0
    for _ in range(10_000):  # bounded: a timer SpiffWorkflow keeps calling not-yet-due must not spin for ever
        claimed = scheduler.tick(sweep_now=True)
        total += claimed
        if claimed == 0:
            break
    return total
