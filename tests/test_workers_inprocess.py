"""The embedded mode: no Redis, the same scheduler and jobs on a background thread."""
from datetime import timedelta

from conftest import bpmn_file
from timer_support import FAST, actions, open_tasks
from workers_support import wait_for

from engine import clock
from workers.config import WorkerConfig
from workers.inprocess import start_background


def test_the_background_thread_fires_a_due_timer_and_stops_when_asked(engine_each):
    engine = engine_each
    engine.deploy([bpmn_file("timer_at.bpmn")])
    handle = start_background(engine, WorkerConfig(timers=FAST.timers, tick=0.05, sweep_every=0.2))
    try:
        iid = engine.start("timer_at", "C-1", {"fire_at": (clock.now() + timedelta(seconds=0.5)).isoformat(),
                                               "hits": 0, "spin_n": 0})
        wait_for(lambda: open_tasks(engine, iid) == ["follow_up"], 10, what="the timer to fire in-process")
    finally:
        handle.stop()
    assert not handle.running
    assert len(actions(engine, iid, "timer_fired")) == 1
    assert engine.instance(iid)["variables"]["hits"] == 1
