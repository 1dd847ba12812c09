"""The RQ job functions. Each worker process keeps one Engine (and its spec cache) for all its jobs."""
import logging
import time

from rq import get_current_job

from engine.background import outbox as outbox_store
from engine.background.firing import run_timers
from engine.background.webhooks import load_channels, sender

from workers.config import WorkerConfig
from workers.queues import ALIVE_PREFIX

log = logging.getLogger(__name__)
_state = {}


def set_engine(engine, config: WorkerConfig | None = None):
    _state["engine"] = engine
    _state["config"] = config or WorkerConfig.from_env()


def _engine():
    if "engine" not in _state:
        from engine.runtime import Engine

        set_engine(Engine())
    return _state["engine"], _state["config"]


def _heartbeat(ttl):
    """Keeps `followup:alive:<job id>` alive while this job runs, so the sweep leaves its timers alone."""
    job = get_current_job()
    if job is None:
        return lambda: None
    key, millis, last = ALIVE_PREFIX + job.id, int(ttl * 1000), [0.0]

    def beat():
        now = time.monotonic()
        if now - last[0] > ttl / 3:
            job.connection.set(key, 1, px=millis)
            last[0] = now
    return beat


def fire_timers(timer_ids):
    """Fire a batch of claimed timers (see engine.background.firing)."""
    engine, config = _engine()
    beat = _heartbeat(config.heartbeat_ttl)
    outcomes = run_timers(engine, timer_ids, config.timers, heartbeat=beat)
    job = get_current_job()
    if job is not None:
        job.connection.delete(ALIVE_PREFIX + job.id)
    return outcomes


def deliver_messages(message_ids):
    """Deliver outbox messages (robot webhooks); failures are retried by the scheduler after a backoff."""
    engine, config = _engine()
    if "send" not in _state:
        _state["send"] = sender(load_channels())
    return {str(i): outbox_store.deliver(engine.db, i, _state["send"], config.outbox) for i in message_ids}


def run_migrations(batch_ids):
    """Move the running instances of queued migration batches (engine/instances/migration.py)."""
    engine, _ = _engine()
    return {str(i): engine.migrations.run(i)["migrated"] for i in batch_ids}


def run_imports(batch_ids):
    """Run (or resume) background customer imports (engine/customers/import_jobs.py) as this job: the job
    id is the batch's fence, and the heartbeat tells the sweep this job is alive."""
    engine, config = _engine()
    job = get_current_job()
    beat = _heartbeat(config.heartbeat_ttl)
    try:
        return {str(i): (engine.run_import(i, job.id if job is not None else None, heartbeat=beat) or {}).get("status")
                for i in batch_ids}
    finally:
        if job is not None:
            job.connection.delete(ALIVE_PREFIX + job.id)
