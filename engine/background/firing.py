"""Running claimed timers: the body of a timer job, the same in an RQ worker and in-process.

Firing is `Engine.fire_timer` (idempotent: one transaction under the instance's row lock). What this
adds is what happens when it does not fire:
- the row is gone: fired by someone else, or its task completed; nothing to do;
- the instance is suspended or in error: the timer is parked until the instance is active again;
- it raised: the try is counted and the timer comes back after a backoff (via the sweep); after the
  last try the instance goes to `error` with an incident naming the timer, the message and a traceback
  summary, which `Engine.retry` (the API's retry) clears, un-parking the timer.
"""
import logging
import traceback
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.instances.steps import Step
from engine.status import FINAL, PARKED, InstanceStatus
from engine.background.timers import TimerPolicy
from engine.storage.schema import audit_events, instances, timers

log = logging.getLogger(__name__)


def run_timers(engine, timer_ids, policy: TimerPolicy, heartbeat=None) -> dict:
    """Fire the timers in one transaction (a savepoint each; see `Engine.fire_timers`), then sort out
    the ones that did not fire. `heartbeat()` is called between steps. Returns a count per outcome."""
    outcomes = {}
    if heartbeat is not None:
        heartbeat()
    try:
        results = engine.fire_timers(list(timer_ids))
    except Exception as err:  # noqa: BLE001 - the batch itself failed (lost connection, deadlock): one by one
        log.warning("timer batch failed (%s); firing one by one", err)
        results = None
    for timer_id in timer_ids:
        if results is None:
            outcome = run_timer(engine, timer_id, policy)
        elif isinstance(results.get(timer_id), Exception):
            log.warning("timer %s failed: %s", timer_id, results[timer_id])
            outcome = record_failure(engine, timer_id, results[timer_id], policy)
        elif results.get(timer_id) is not None:
            outcome = "fired"
        else:
            outcome = _not_fired(engine, timer_id)
        if heartbeat is not None:
            heartbeat()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def run_timer(engine, timer_id, policy: TimerPolicy) -> str:
    try:
        if engine.fire_timer(timer_id) is not None:
            return "fired"
    except Exception as err:  # noqa: BLE001 - every failure is counted, whatever raised it
        log.warning("timer %s failed: %s", timer_id, err)
        return record_failure(engine, timer_id, err, policy)
    return _not_fired(engine, timer_id)


def _not_fired(engine, timer_id) -> str:
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(timers.c.id, timers.c.enqueued_at, instances.c.status)
                           .join(instances, instances.c.id == timers.c.instance_id)
                           .where(timers.c.id == timer_id)).first()
        if row is None:
            return "gone"
        if row.enqueued_at is None:  # a cycle timer re-armed by the same step; the scheduler has it
            return "rearmed"
        if row.status in PARKED:
            conn.execute(timers.update().where(timers.c.id == timer_id).values(
                lease_until=None, job_id=None, last_error=f"instance is {row.status}; waits until it is active"))
            return "parked"
        # Not due in SpiffWorkflow's eyes yet (a clock a hair behind): unclaim, the next tick takes it.
        conn.execute(timers.update().where(timers.c.id == timer_id).values(
            enqueued_at=None, lease_until=None, job_id=None))
        return "released"


def _summary(err) -> str:
    lines = traceback.format_exception(err)
    return "".join(lines[-6:]).strip()[-2000:]


def record_failure(engine, timer_id, err, policy: TimerPolicy) -> str:
    """Count a failed try; back off, or after the last one raise an incident on the instance."""
    now = clock.now()
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(timers).where(timers.c.id == timer_id).with_for_update()).first()
        if row is None:
            return "gone"
        attempts = row.attempts + 1
        message = f"{type(err).__name__}: {err}"
        if attempts < policy.max_attempts:
            conn.execute(timers.update().where(timers.c.id == timer_id).values(
                attempts=attempts, last_error=message, job_id=None,
                lease_until=now + timedelta(seconds=policy.delay(attempts))))
            return "retry"
        incident = {"task_id": timer_id, "element_id": row.element_id, "message": message,
                    "traceback": _summary(err), "attempts": attempts, "at": now.isoformat()}
    _raise_incident(engine, row, incident, attempts, message)
    return "failed"


def _park_failed(conn, timer_id, attempts, message):
    conn.execute(timers.update().where(timers.c.id == timer_id).values(
        attempts=attempts, last_error=message, lease_until=None, job_id=None))


def _raise_incident(engine, row, incident, attempts, message):
    def apply(conn, loaded):
        if loaded.row.status in FINAL:
            return None
        _park_failed(conn, row.id, attempts, message)
        return Step("timer_failed", row.id, row.element_id, detail={"attempts": attempts},
                    incident=incident)

    try:
        engine.instances.change(sa.select(instances).where(instances.c.id == row.instance_id), "timer", apply,
                                missing=lambda conn: None)
        return
    except Exception:  # noqa: BLE001 - the instance cannot even be loaded: mark it without loading
        log.exception("could not record the incident of timer %s through the engine", row.id)
    now = clock.now()
    with engine.db.begin() as conn:
        conn.execute(instances.update().where(instances.c.id == row.instance_id,
                                              instances.c.status.notin_(sorted(FINAL)))
                     .values(status=InstanceStatus.ERROR, incident=incident, updated_at=now, revision=instances.c.revision + 1))
        _park_failed(conn, row.id, attempts, message)
        conn.execute(audit_events.insert().values(instance_id=row.instance_id, at=now, actor="timer",
                                                  action="timer_failed", task_id=row.id, element_id=row.element_id,
                                                  detail={"attempts": attempts, "error": message}))
