"""An event-based gateway racing a customer's reply against a one-day timer: exactly one branch wins."""
from datetime import timedelta

import pytest
from conftest import bpmn_file
from timer_support import actions, advance_to, fire_due, open_tasks, timer_rows

from engine import clock
from engine.errors import NotFound


def test_the_reply_wins_and_the_timer_is_gone(engine):
    engine.deploy([bpmn_file("timer_race.bpmn")])
    iid = engine.start("timer_race", "C-20")
    (timer,) = timer_rows(engine, iid)
    clock.advance(timedelta(hours=3))
    assert engine.correlate_message("customer_replied", "C-20", {"reply": "明天来"}) == [iid]
    assert open_tasks(engine, iid) == ["read_reply"]
    assert timer_rows(engine, iid) == []

    clock.advance(timedelta(days=2))
    assert fire_due(engine) == 0
    assert engine.fire_timer(timer.id) is None
    assert open_tasks(engine, iid) == ["read_reply"]
    assert actions(engine, iid, "timer_fired") == []


def test_the_timer_wins_and_a_late_reply_finds_no_one_waiting(engine):
    engine.deploy([bpmn_file("timer_race.bpmn")])
    iid = engine.start("timer_race", "C-21")
    (timer,) = timer_rows(engine, iid)
    advance_to(timer.due_at)
    assert fire_due(engine) == 1
    assert open_tasks(engine, iid) == ["chase"]
    with pytest.raises(NotFound):
        engine.correlate_message("customer_replied", "C-21")
    assert open_tasks(engine, iid) == ["chase"]
    assert actions(engine, iid, "message_received") == []
