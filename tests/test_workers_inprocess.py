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


def test_a_round_that_hangs_on_a_robot_shows_in_health_until_it_ends(engine, monkeypatch):
    """A robot (webhook) that does not answer holds the in-process runner's round: /api/health says so
    (503, naming it) instead of "run in this process", and once the robot answers the deadlines go on."""
    import threading

    from api import create_app
    from api.routes import system
    from timer_support import outbox_rows

    answer = threading.Event()
    sent = []

    def hanging_robot(channel, payload):
        answer.wait(30)
        sent.append(payload)

    monkeypatch.setattr(system, "STUCK_AFTER", 0.5)
    engine.deploy([bpmn_file("timer_notify_after_call.bpmn"), bpmn_file("timer_at.bpmn")])
    called = engine.start("timer_notify_after_call", "C-40", {"channel": "sales", "customer": "李女士"})
    task = engine.instance(called)["tasks"][0]
    engine.claim(task["id"], "li")
    engine.complete_task(task["id"], actor="li")
    assert len(outbox_rows(engine)) == 1
    app = create_app(engine)
    handle = start_background(engine, WorkerConfig(timers=FAST.timers, tick=0.05, sweep_every=0.2), send=hanging_robot)
    app.extensions["followup_timers"] = handle
    client = app.test_client()
    try:
        waited = engine.start("timer_at", "T-1", {"fire_at": (clock.now() + timedelta(seconds=0.2)).isoformat(),
                                                  "hits": 0, "spin_n": 0})
        stuck = wait_for(lambda: (r := client.get("/api/health")).status_code == 503 and r.get_json(), 10,
                         what="health to see the round hang")
        assert stuck["timers"]["ok"] is False and "in one round for" in stuck["timers"]["detail"], stuck
        answer.set()
        wait_for(lambda: open_tasks(engine, waited) == ["follow_up"], 10, what="the timer after the robot answered")
        assert client.get("/api/health").get_json()["timers"] == {"ok": True, "detail": "run in this process"}
    finally:
        answer.set()
        handle.stop()
    assert len(sent) == 1
