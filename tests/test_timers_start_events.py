"""Timer start events: a launcher starts one new instance per tick of the cycle."""
from datetime import timedelta

import sqlalchemy as sa
from conftest import bpmn_file
from timer_support import advance_to, fire_due

from engine import clock
from engine.background.launchers import Launchers
from engine.storage.schema import instances, timer_launchers


def _instances(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(instances.c.id, instances.c.started_by).where(
            instances.c.process_key == "timer_daily_sweep").order_by(instances.c.started_at)).all()


def _launcher(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(timer_launchers)).one()


def test_a_cycle_start_event_starts_one_instance_per_tick_three_times(engine):
    engine.deploy([bpmn_file("timer_daily_sweep.bpmn")])
    fire_due(engine)  # the scheduler notices the deployment
    launcher = _launcher(engine)
    assert launcher.remaining == 3 and _instances(engine) == []
    assert timedelta(minutes=59) < launcher.next_due_at - clock.now() <= timedelta(hours=1)

    for tick in range(1, 4):
        advance_to(_launcher(engine).next_due_at)
        fire_due(engine)
        fire_due(engine)  # a second pass (or a second scheduler) launches nothing more
        started = _instances(engine)
        assert len(started) == tick
        newest = engine.instance(started[-1].id)
        assert newest["variables"] == {"swept": True}
        assert [t["element_id"] for t in newest["tasks"]] == ["review"]
        assert newest["timers"] == []  # the new instance does not wait for the start timer itself

    assert _launcher(engine).next_due_at is None
    clock.advance(timedelta(hours=5))
    fire_due(engine)
    assert len(_instances(engine)) == 3


def test_two_schedulers_launching_the_same_tick_start_one_instance(engine):
    engine.deploy([bpmn_file("timer_daily_sweep.bpmn")])
    first, second = Launchers(engine), Launchers(engine)
    first.sync()
    second.sync()
    advance_to(_launcher(engine).next_due_at)
    stale = _launcher(engine)
    assert len(first.launch_due()) == 1
    # The second scheduler read the launcher before the first advanced it: same tick, same instance id.
    assert second._launch(stale) is None
    assert len(_instances(engine)) == 1


def test_a_new_version_without_the_timer_start_event_stops_the_launches(engine):
    engine.deploy([bpmn_file("timer_daily_sweep.bpmn")])
    fire_due(engine)
    name, content = bpmn_file("timer_daily_sweep.bpmn")
    plain = content.replace(b'<bpmn:timerEventDefinition id="td1"><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle>'
                            b'</bpmn:timerEventDefinition>', b"")
    engine.deploy([(name, plain)])
    fire_due(engine)
    with engine.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(timer_launchers)).scalar() == 0
    clock.advance(timedelta(hours=2))
    fire_due(engine)
    assert _instances(engine) == []
