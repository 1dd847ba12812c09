"""Boundary timers, fired by the same scheduler and job code the workers run (in-process here)."""
from datetime import timedelta

from conftest import bpmn_file
from timer_support import Outbound, actions, advance_to, fire_due, open_tasks, outbox_rows, timer_rows

from engine import clock


def test_an_interrupting_boundary_timer_escalates_an_untouched_call_once(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    iid = engine.start("first_contact", "C-1", {"owner": "li"})
    (timer,) = timer_rows(engine, iid)
    started = clock.now()
    assert timedelta(hours=1, minutes=59) < timer.due_at - started <= timedelta(hours=2)

    clock.advance(timedelta(hours=1, minutes=58))
    assert fire_due(engine) == 0
    assert open_tasks(engine, iid) == ["call"]

    advance_to(timer.due_at)
    assert fire_due(engine) == 1
    assert open_tasks(engine, iid) == ["escalate"]
    assert [e.element_id for e in actions(engine, iid, "timer_fired")] == ["call_overdue"]
    assert timer_rows(engine, iid) == []

    # Firing again, by the scheduler or by hand, changes nothing.
    assert fire_due(engine) == 0
    assert engine.fire_timer(timer.id) is None
    assert len(actions(engine, iid, "timer_fired")) == 1


def test_a_call_completed_before_its_deadline_is_never_escalated(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    iid = engine.start("first_contact", "C-2", {"owner": "li"})
    (timer,) = timer_rows(engine, iid)
    call = engine.instance(iid)["tasks"][0]
    clock.advance(timedelta(hours=1))
    engine.complete_task(call["id"], {"outcome": "reached"})
    assert timer_rows(engine, iid) == []

    clock.advance(timedelta(hours=5))
    assert fire_due(engine) == 0
    assert engine.fire_timer(timer.id) is None
    assert open_tasks(engine, iid) == ["qualify"]
    assert actions(engine, iid, "timer_fired") == []


def test_a_non_interrupting_cycle_reminds_three_times_while_the_call_stays_open(engine):
    engine.deploy([bpmn_file("timer_reminder.bpmn")])
    iid = engine.start("timer_reminder", "C-3", {"customer": "王先生"})
    call = engine.instance(iid)["tasks"][0]
    robots = Outbound()
    dues = []
    for hour in range(3):
        (timer,) = timer_rows(engine, iid)
        dues.append(timer.due_at)
        advance_to(timer.due_at)
        assert fire_due(engine, robots) == 1
        assert engine.instance(iid)["tasks"] == [call]  # the same task, still open
    assert [d - dues[0] for d in dues] == [timedelta(0), timedelta(hours=1), timedelta(hours=2)]
    assert [m["text"] for m in robots.sent] == ["还没有联系客户 王先生"] * 3
    assert all(r.sent_at is not None for r in outbox_rows(engine))
    assert timer_rows(engine, iid) == []  # R3: no fourth reminder

    clock.advance(timedelta(hours=5))
    assert fire_due(engine, robots) == 0
    assert len(robots.sent) == 3
    engine.complete_task(call["id"])
    assert engine.instance(iid)["status"] == "complete"
