"""Helpers for the timer tests: run due work in-process, move the engine clock, read audit events."""
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.background.timers import TimerPolicy
from engine.storage.schema import audit_events, outbox, timers
from workers.config import WorkerConfig
from workers.inprocess import run_due

FAST = WorkerConfig(timers=TimerPolicy(lease=5, batch_size=10, max_attempts=3, backoff=(1.0, 2.0)))


class Outbound:
    """Stands in for the robots in tests that are not about delivery: records what would be sent."""

    def __init__(self):
        self.sent = []

    def __call__(self, topic, payload):
        self.sent.append(payload)


def fire_due(engine, send=None, config=FAST) -> int:
    return run_due(engine, config, send or Outbound())


def advance_to(moment, past=timedelta(seconds=1)):
    clock.advance(moment - clock.now() + past)


def actions(engine, instance_id, action):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(audit_events).where(audit_events.c.instance_id == instance_id,
                                                          audit_events.c.action == action)
                            .order_by(audit_events.c.id)).all()


def timer_rows(engine, instance_id=None):
    query = sa.select(timers).order_by(timers.c.due_at)
    if instance_id is not None:
        query = query.where(timers.c.instance_id == instance_id)
    with engine.db.connect() as conn:
        return conn.execute(query).all()


def outbox_rows(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()


def open_tasks(engine, instance_id):
    return [t["element_id"] for t in engine.instance(instance_id)["tasks"]]
