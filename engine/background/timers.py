"""Finding due timers and handing them out in batches, and the sweep that hands out again what was lost.

The database is the source of truth. A timer row is *unclaimed* (`enqueued_at` NULL) until a scheduler
claims it: claiming stamps `enqueued_at`, a `lease_until` and the id of the job that will carry it, in
the same statement that picked it (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of schedulers
can run at once). Firing deletes the row (or re-arms a cycle timer, which clears `enqueued_at`).

When a lease runs out and the row is still there, the sweep asks `is_live(job_ids)` whether the job is
still queued or running; if not (Redis flushed, worker killed, job failed) the timer goes into a new
job. Both queries read a partial index, so a tick costs the same with 1,000 or 1,000,000 timers pending.
A parked timer (its instance suspended or in error) has `enqueued_at` set and no lease: no query sees
it until the instance becomes active again (see `InstanceStore._save`).
"""
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine.config import env_numbers, parse_number
from engine.storage.schema import task_due_counts, task_due_set_counts, timers


@dataclass(frozen=True)
class TimerPolicy:
    lease: float = 15.0          # seconds a claimed timer may stay unfired before the sweep checks its job
    batch_size: int = 50         # timers per job
    max_attempts: int = 5        # failed tries before the instance goes to `error`
    backoff: tuple = (2.0, 10.0, 30.0, 120.0)  # seconds before try 2, 3, 4, 5...

    def delay(self, attempts: int) -> float:
        return self.backoff[min(attempts, len(self.backoff)) - 1] if attempts > 0 else 0.0

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        kwargs = env_numbers(env, {"lease": ("FOLLOWUP_TIMER_LEASE", float),
                                   "batch_size": ("FOLLOWUP_TIMER_BATCH", int),
                                   "max_attempts": ("FOLLOWUP_TIMER_ATTEMPTS", int)})
        if (env.get("FOLLOWUP_TIMER_BACKOFF") or "").strip():
            kwargs["backoff"] = tuple(parse_number("FOLLOWUP_TIMER_BACKOFF", x, float, zero_ok=True)
                                      for x in env["FOLLOWUP_TIMER_BACKOFF"].split(","))
        return cls(**kwargs)


@dataclass
class Batch:
    job_id: str
    timer_ids: list


def new_job_id() -> str:
    return f"timers-{uuid.uuid4().hex}"


def _batches(ids, size):
    return [Batch(new_job_id(), ids[i:i + size]) for i in range(0, len(ids), size)]


def _stamp(conn, batches, now, lease_until):
    for batch in batches:
        conn.execute(timers.update().where(timers.c.id.in_(batch.timer_ids)).values(
            enqueued_at=now, lease_until=lease_until, job_id=batch.job_id))


def claim_due(db, now, policy: TimerPolicy, limit=1000) -> list[Batch]:
    """Claim up to `limit` due, unclaimed timers, earliest first; the caller enqueues the batches."""
    with db.begin() as conn:
        ids = [r.id for r in conn.execute(
            sa.select(timers.c.id).where(timers.c.enqueued_at.is_(None), timers.c.due_at <= now)
            .order_by(timers.c.due_at).limit(limit).with_for_update(skip_locked=True))]
        batches = _batches(ids, policy.batch_size)
        _stamp(conn, batches, now, now + timedelta(seconds=policy.lease))
    return batches


def sweep(db, now, policy: TimerPolicy, is_live, limit=1000) -> list[Batch]:
    """Look at timers whose lease ran out: a live job keeps them, the rest go into new batches."""
    with db.begin() as conn:
        rows = conn.execute(
            sa.select(timers.c.id, timers.c.job_id, timers.c.enqueued_at).where(timers.c.lease_until <= now)
            .order_by(timers.c.lease_until).limit(limit).with_for_update(skip_locked=True)).all()
        if not rows:
            return []
        rearmed = [r.id for r in rows if r.enqueued_at is None]  # a cycle timer that fired and waits again
        if rearmed:
            conn.execute(timers.update().where(timers.c.id.in_(rearmed)).values(lease_until=None, job_id=None))
        claimed = [r for r in rows if r.enqueued_at is not None]
        live = is_live(sorted({r.job_id for r in claimed if r.job_id})) if claimed else set()
        lease_until = now + timedelta(seconds=policy.lease)
        keep = [r.id for r in claimed if r.job_id in live]
        if keep:
            conn.execute(timers.update().where(timers.c.id.in_(keep)).values(lease_until=lease_until))
        lost = [r.id for r in claimed if r.job_id not in live]
        batches = _batches(lost, policy.batch_size)
        _stamp(conn, batches, now, lease_until)
    return batches


def purge_spent_due_counts(db, now) -> int:
    """Delete the rows of task_due_counts and task_due_set_counts left at zero whose day has passed
    (migrations 0013, 0014: the triggers leave them, so that a row is updated in place, HOT, instead of
    deleted and inserted each time it goes to zero and back). Run with each sweep; returns the rows deleted."""
    today = int(now.timestamp() // 86400)
    with db.begin() as conn:
        return sum(conn.execute(table.delete().where(table.c.open_tasks == 0, table.c.due_day < today)).rowcount
                   for table in (task_due_counts, task_due_set_counts))


def next_due(db):
    """The earliest due time of an unclaimed timer, or None (lets a scheduler sleep until then)."""
    with db.connect() as conn:
        return conn.execute(sa.select(timers.c.due_at).where(timers.c.enqueued_at.is_(None))
                            .order_by(timers.c.due_at).limit(1)).scalar()
