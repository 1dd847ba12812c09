"""Workers fire due timers in batches: one transaction, a savepoint per timer."""
from datetime import timedelta

from conftest import bpmn_file
from engine import clock
from engine.instances import writes as instances_module


def test_a_timer_failing_halfway_through_its_save_is_undone_alone(engine, monkeypatch):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    ids = [engine.start("first_contact", f"C-{i}", {"owner": "li"}) for i in range(3)]
    timers = {engine.instance(i)["timers"][0]["id"]: i for i in ids}
    broken_instance = ids[1]
    clock.advance(timedelta(hours=2, seconds=1))

    original_audit_row = instances_module.audit_row

    def audit_failing_for_one(instance_id, actor, step, now):
        if instance_id == broken_instance:  # its state and task rows are already on their way
            raise RuntimeError("disk full")
        return original_audit_row(instance_id, actor, step, now)

    monkeypatch.setattr(instances_module, "audit_row", audit_failing_for_one)
    results = engine.fire_timers(list(timers))
    monkeypatch.undo()

    by_instance = {timers[t]: r for t, r in results.items()}
    assert isinstance(by_instance[broken_instance], RuntimeError)
    for instance_id in ids:
        instance = engine.instance(instance_id)
        if instance_id == broken_instance:   # untouched: still waiting for the call, timer pending
            assert [t["element_id"] for t in instance["tasks"]] == ["call"]
            assert len(instance["timers"]) == 1
            assert [e["action"] for e in engine.events(instance_id)[0]] == ["started"]
        else:
            assert by_instance[instance_id].action == "timer_fired"
            assert [t["element_id"] for t in instance["tasks"]] == ["escalate"]
            assert instance["timers"] == []
    # Fired again, the batch finishes the one that failed, and only that one.
    again = engine.fire_timers(list(timers))
    assert sum(r is not None for r in again.values()) == 1
    assert [t["element_id"] for t in engine.instance(broken_instance)["tasks"]] == ["escalate"]


def test_firing_twice_in_one_batch_fires_once(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance_id = engine.start("first_contact", "C-1", {"owner": "li"})
    timer_id = engine.instance(instance_id)["timers"][0]["id"]
    clock.advance(timedelta(hours=2, seconds=1))
    first = engine.fire_timers([timer_id])
    second = engine.fire_timers([timer_id])
    assert first[timer_id].action == "timer_fired" and second[timer_id] is None
    assert [e["action"] for e in engine.events(instance_id)[0]].count("timer_fired") == 1
