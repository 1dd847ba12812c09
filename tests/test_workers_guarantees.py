"""The timer guarantees, on real PostgreSQL and Redis with real `followup scheduler` / `followup worker`
processes (leases of 2 s so lost work comes back quickly). Waits are bounded."""
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import bpmn_file
from rq import Queue
from rq.registry import StartedJobRegistry
from timer_support import actions, open_tasks
from workers_support import Stack, fired_events, pending_timers, wait_for

from engine import clock
from engine.storage.schema import human_tasks
from workers.config import TIMER_QUEUE


@pytest.fixture
def stack(engine, redis_url, tmp_path):
    if engine.db.dialect.name != "postgresql":
        pytest.skip("the worker guarantees are proven on PostgreSQL")
    processes = Stack(engine, redis_url, tmp_path)
    yield processes
    processes.close()


def _start_at(engine, fire_at, count=1, spin_n=0, key="C"):
    return [engine.start("timer_at", f"{key}-{i}", {"fire_at": fire_at.isoformat(), "hits": 0, "spin_n": spin_n})
            for i in range(count)]


def test_a_timer_due_in_one_second_fires_within_two(engine, stack):
    engine.deploy([bpmn_file("timer_at.bpmn")])
    stack.scheduler()
    stack.worker("w1")
    stack.wait_ready(schedulers=1, workers=["w1"])
    started = clock.now()
    (iid,) = _start_at(engine, started + timedelta(seconds=1))
    (event,) = wait_for(lambda: fired_events(engine), 5, what="the timer to fire")
    assert event.at - started <= timedelta(seconds=2)
    assert open_tasks(engine, iid) == ["follow_up"]


def test_a_worker_killed_in_the_middle_of_a_timer_job_loses_nothing_and_doubles_nothing(engine, stack):
    engine.deploy([bpmn_file("timer_at.bpmn")])
    stack.scheduler()
    stack.worker("doomed")
    stack.wait_ready(schedulers=1, workers=["doomed"])
    # The script after the timer spins for about a second inside the job's transaction.
    (iid,) = _start_at(engine, clock.now() + timedelta(seconds=0.5), spin_n=40_000_000)
    started = StartedJobRegistry(queue=Queue(TIMER_QUEUE, connection=stack.redis))
    wait_for(lambda: started.get_job_ids(), 10, what="the timer job to start")
    time.sleep(0.3)
    stack.kill("doomed")
    assert fired_events(engine) == []                     # the killed transaction did not commit

    stack.worker("heir")
    wait_for(lambda: fired_events(engine), 20, what="the timer to fire after the kill")
    time.sleep(3)                                         # longer than a lease: nothing fires twice
    assert len(fired_events(engine)) == 1
    assert engine.instance(iid)["variables"]["hits"] == 1
    assert open_tasks(engine, iid) == ["follow_up"]


def test_timers_survive_a_redis_flush(engine, stack):
    engine.deploy([bpmn_file("timer_at.bpmn")])
    stack.scheduler()
    stack.wait_ready(schedulers=1)
    soon = _start_at(engine, clock.now() + timedelta(seconds=0.5), count=10, key="soon")
    later = _start_at(engine, clock.now() + timedelta(seconds=3), count=10, key="later")
    wait_for(lambda: sum(1 for t in pending_timers(engine) if t.enqueued_at) >= 10, 10,
             what="the due timers to be enqueued")
    # The scheduler marks timers enqueued in the database, then puts the jobs on Redis: wait for the jobs.
    wait_for(lambda: len(Queue(TIMER_QUEUE, connection=stack.redis)) > 0, 10, what="the jobs to be on Redis")
    stack.redis.flushdb()                                 # FLUSHALL, limited to the tests' database

    stack.worker("w1")
    wait_for(lambda: len(fired_events(engine)) == 20, 20, what="all 20 timers to fire")
    assert pending_timers(engine) == []
    assert Counter(e.instance_id for e in fired_events(engine)) == Counter(soon + later)


def test_two_schedulers_and_three_workers_fire_500_timers_exactly_once(engine, stack):
    engine.deploy([bpmn_file("timer_at.bpmn")])
    for name in ("s1", "s2"):
        stack.scheduler(name)
    for name in ("w1", "w2", "w3"):
        stack.worker(name)
    stack.wait_ready(schedulers=2, workers=["w1", "w2", "w3"])
    ids = _start_at(engine, clock.now() + timedelta(seconds=3), count=500)
    wait_for(lambda: len(fired_events(engine)) >= 500, 60, interval=0.25, what="500 timers to fire")
    time.sleep(3)                                         # longer than a lease: late duplicates would show
    fired = Counter(e.instance_id for e in fired_events(engine))
    assert fired == Counter(ids)                          # each instance's timer fired exactly once
    with engine.db.connect() as conn:
        follow_ups = conn.execute(sa.select(human_tasks.c.instance_id).where(
            human_tasks.c.element_id == "follow_up")).scalars().all()
    assert sorted(follow_ups) == sorted(ids)
    assert {engine.instance(i)["variables"]["hits"] for i in ids[:50]} == {1}


def test_a_call_completed_before_its_deadline_never_fires(engine, stack):
    engine.deploy([bpmn_file("timer_guarded_call.bpmn")])
    stack.scheduler()
    stack.worker("w1")
    stack.wait_ready(schedulers=1, workers=["w1"])
    iid = engine.start("timer_guarded_call", "C-1", {"fire_at": (clock.now() + timedelta(seconds=1.5)).isoformat()})
    engine.complete_task(engine.instance(iid)["tasks"][0]["id"], actor="li")
    time.sleep(3)
    assert fired_events(engine) == [] and actions(engine, iid, "timer_fired") == []
    assert engine.instance(iid)["status"] == "complete"
