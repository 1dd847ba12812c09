"""A timer whose job keeps failing: retried with backoff, then an incident a supervisor can retry."""
from datetime import timedelta

from conftest import bpmn_file
from timer_support import actions, advance_to, fire_due, open_tasks, timer_rows

from engine import clock


def test_a_failing_timer_is_retried_then_raises_an_incident_that_retry_clears(engine, monkeypatch):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    iid = engine.start("first_contact", "C-30", {"owner": "li"})
    (timer,) = timer_rows(engine, iid)

    def broken(timer_id):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "fire_timer", broken)
    monkeypatch.setattr(engine, "fire_timers", lambda timer_ids: broken(None))  # the batch path, too
    advance_to(timer.due_at)
    fire_due(engine)                                   # try 1 fails; next try after 1 s
    (row,) = timer_rows(engine, iid)
    assert row.attempts == 1 and "database went away" in row.last_error
    assert engine.instance(iid)["status"] == "user_input"
    fire_due(engine)                                   # still backing off: no try
    assert timer_rows(engine, iid)[0].attempts == 1

    clock.advance(timedelta(seconds=1.5))
    fire_due(engine)                                   # try 2 fails; next after 2 s
    assert timer_rows(engine, iid)[0].attempts == 2
    clock.advance(timedelta(seconds=2.5))
    fire_due(engine)                                   # try 3 is the last

    failed = engine.instance(iid)
    assert failed["status"] == "error"
    incident = failed["incident"]
    assert incident["task_id"] == timer.id and incident["element_id"] == "call_overdue"
    assert "database went away" in incident["message"] and "RuntimeError" in incident["traceback"]
    assert [e.detail["attempts"] for e in actions(engine, iid, "timer_failed")] == [3]

    clock.advance(timedelta(minutes=10))
    fire_due(engine)                                   # parked: no more tries while in error
    assert timer_rows(engine, iid)[0].attempts == 3

    monkeypatch.undo()                                 # the cause is fixed; the supervisor retries
    engine.retry(iid, actor="boss")
    # The retry runs the overdue timer at once (as any change does), and only once.
    assert engine.instance(iid)["status"] == "user_input"
    assert open_tasks(engine, iid) == ["escalate"]
    assert timer_rows(engine, iid) == []
    assert fire_due(engine) == 0
    assert open_tasks(engine, iid) == ["escalate"]


def test_a_timer_due_while_suspended_fires_after_the_time_it_had_left_not_before(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    iid = engine.start("first_contact", "C-31", {"owner": "li"})
    (timer,) = timer_rows(engine, iid)
    engine.suspend(iid, actor="boss")
    advance_to(timer.due_at)
    fire_due(engine)
    assert open_tasks(engine, iid) == ["call"] and actions(engine, iid, "timer_fired") == []

    engine.resume(iid, actor="boss")  # a duration keeps the time it had left (issue 12 item 3)
    fire_due(engine)
    assert open_tasks(engine, iid) == ["call"]
    (moved,) = timer_rows(engine, iid)
    advance_to(moved.due_at)
    fire_due(engine)
    assert open_tasks(engine, iid) == ["escalate"]
    assert timer_rows(engine, iid) == []
