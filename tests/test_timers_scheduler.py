"""The scheduler's claims and sweep: no timer is handed out twice, and none is lost with its job."""
import threading
from datetime import timedelta

import sqlalchemy as sa
from conftest import bpmn_file
from timer_support import advance_to, timer_rows

from engine import clock
from engine.background.timers import TimerPolicy, claim_due, sweep
from engine.storage.schema import timers

POLICY = TimerPolicy(lease=10, batch_size=7)


def _due_timers(engine, count):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    for i in range(count):
        engine.start("first_contact", f"C-{i}", {"owner": "li"})
    advance_to(max(t.due_at for t in timer_rows(engine)))


def test_concurrent_schedulers_never_claim_the_same_timer(engine):
    _due_timers(engine, 60)
    claimed, errors = [], []

    def scheduler():
        try:
            for _ in range(10):
                for batch in claim_due(engine.db, clock.now(), POLICY, limit=5):
                    claimed.extend(batch.timer_ids)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=scheduler) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(claimed) == sorted(t.id for t in timer_rows(engine))  # each exactly once
    assert claim_due(engine.db, clock.now(), POLICY) == []


def test_the_sweep_keeps_timers_of_live_jobs_and_rehands_those_of_lost_ones(engine):
    _due_timers(engine, 10)
    batches = claim_due(engine.db, clock.now(), POLICY)
    assert [len(b.timer_ids) for b in batches] == [7, 3]
    assert sweep(engine.db, clock.now(), POLICY, lambda ids: set()) == []  # leases still running

    clock.advance(timedelta(seconds=11))
    live, lost = batches
    again = sweep(engine.db, clock.now(), POLICY, lambda ids: {live.job_id} & set(ids))
    assert [sorted(b.timer_ids) for b in again] == [sorted(lost.timer_ids)]
    assert again[0].job_id != lost.job_id
    with engine.db.connect() as conn:
        jobs = dict(conn.execute(sa.select(timers.c.id, timers.c.job_id)).all())
    assert {jobs[t] for t in live.timer_ids} == {live.job_id}
    assert {jobs[t] for t in lost.timer_ids} == {again[0].job_id}
