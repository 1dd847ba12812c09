"""Running instances through the engine: every step persisted, audited and checked."""
import math

import pytest
import sqlalchemy as sa

from conftest import bpmn_file
from engine.errors import Conflict, DeploymentError, InvalidInput, NotFound
from test_deploy import diagram
from engine.storage.schema import human_tasks, instances


def state_of(engine, instance_id):
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(instances.c.state, instances.c.revision, instances.c.status)
                           .where(instances.c.id == instance_id)).one()
        tasks = conn.execute(sa.select(human_tasks.c.id, human_tasks.c.assignee)
                             .where(human_tasks.c.instance_id == instance_id)).all()
    return row, sorted(tasks)


def start_first_contact(engine, owner="li"):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance = engine.instance(engine.start("first_contact", "C-1001", {"owner": owner}, actor="admin"))
    return instance, instance["tasks"][0]


def test_an_instance_runs_from_start_to_end_with_its_variables(engine_each):
    engine = engine_each
    instance, call = start_first_contact(engine)
    assert instance["status"] == "user_input"
    assert instance["business_key"] == "C-1001"
    assert instance["active_element_ids"] == ["call", "call_overdue"]
    engine.complete_task(call["id"], {"outcome": "reached", "note": "约了周三拜访"}, actor="wang")
    qualify = engine.instance(instance["id"])["tasks"][0]
    assert qualify["element_id"] == "qualify"
    engine.complete_task(qualify["id"], {"budget": "5000"}, actor="li")
    done = engine.instance(instance["id"])
    assert done["status"] == "complete"
    assert done["ended_at"] is not None
    assert done["tasks"] == [] and done["timers"] == []
    assert done["variables"] == {"owner": "li", "outcome": "reached", "note": "约了周三拜访", "budget": 5000, "tier": "A"}


def test_a_required_text_of_blanks_only_is_refused_as_empty(engine):
    """Three spaces (or a full-width one) typed into a required 跟进结果 say nothing: refused, not recorded."""
    instance, call = start_first_contact(engine)
    with pytest.raises(InvalidInput) as caught:
        engine.complete_task(call["id"], {"outcome": " \u3000 "}, actor="wang")
    assert caught.value.errors == {"outcome": ["is required"]}
    engine.complete_task(call["id"], {"outcome": "reached", "note": "  "}, actor="wang")
    assert engine.instance(instance["id"])["variables"]["note"] is None, "an optional field of blanks is left empty"


def test_bad_form_values_are_refused_listing_every_field_and_change_nothing(engine):
    instance, call = start_first_contact(engine)
    before = state_of(engine, instance["id"])
    with pytest.raises(InvalidInput) as caught:
        engine.complete_task(call["id"], {"outcome": "maybe", "note": "x" * 21, "extra": 1}, actor="wang")
    assert caught.value.errors == {
        "outcome": ["must be one of: reached, no_answer"],
        "note": ["must be at most 20 characters long"],
        "extra": ["is not a field of this form"],
    }
    assert state_of(engine, instance["id"]) == before


def test_number_fields_check_type_and_bounds(engine):
    instance, call = start_first_contact(engine)
    engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")
    qualify = engine.instance(instance["id"])["tasks"][0]
    for bad, reason in [("lots", "must be a whole number"), (-1, "must be at least 0"), (True, "must be a whole number"),
                        (None, "is required"), ("   ", "is required"), ("\u3000\t", "is required")]:
        with pytest.raises(InvalidInput) as caught:
            engine.complete_task(qualify["id"], {"budget": bad}, actor="li")
        assert caught.value.errors == {"budget": [reason]}


def test_unknown_ids_are_not_found(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    with pytest.raises(NotFound, match="no process definition with key 'nope'"):
        engine.start("nope")
    with pytest.raises(NotFound, match="no open task with id 'missing'"):
        engine.complete_task("missing", {})
    with pytest.raises(NotFound, match="no process instance with id 'missing'"):
        engine.instance("missing")
    with pytest.raises(NotFound):
        engine.cancel("missing")


def test_a_claimed_task_can_only_be_completed_by_its_holder(engine):
    instance, call = start_first_contact(engine)
    engine.claim(call["id"], "wang")
    with pytest.raises(Conflict, match="already claimed by wang"):
        engine.claim(call["id"], "zhao")
    with pytest.raises(Conflict, match="claimed by wang"):
        engine.complete_task(call["id"], {"outcome": "reached"}, actor="zhao")
    engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")
    with pytest.raises(Conflict, match="already completed by wang"):
        engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")


def test_unclaim_and_assign(engine):
    instance, call = start_first_contact(engine)
    engine.claim(call["id"], "wang")
    with pytest.raises(Conflict):
        engine.unclaim(call["id"], "zhao")
    assert engine.unclaim(call["id"], "wang")["assignee"] is None
    assert engine.assign(call["id"], "zhao", actor="boss")["assignee"] == "zhao"
    assert engine.task(call["id"])["assignee"] == "zhao"


def test_every_change_leaves_one_audit_event_with_who_and_what_changed(engine):
    instance, call = start_first_contact(engine)
    engine.claim(call["id"], "wang")
    engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")
    events, total = engine.events(instance["id"])
    assert total == 3
    assert [(e["action"], e["actor"]) for e in events] == [
        ("started", "admin"), ("task_claimed", "wang"), ("task_completed", "wang")]
    assert events[0]["detail"]["changes"] == {"owner": [None, "li"]}
    assert events[2]["element_id"] == "call"
    assert events[2]["detail"]["changes"] == {"outcome": [None, "reached"]}


def test_cancel_ends_the_instance_and_removes_its_tasks_and_timers(engine):
    instance, call = start_first_contact(engine)
    engine.cancel(instance["id"], actor="boss", reason="duplicate lead")
    cancelled = engine.instance(instance["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["tasks"] == [] and cancelled["timers"] == []
    with pytest.raises(Conflict, match="cancelled"):
        engine.cancel(instance["id"])
    with pytest.raises((Conflict, NotFound)):
        engine.complete_task(call["id"], {"outcome": "reached"})


def test_a_suspended_instance_refuses_work_until_resumed(engine):
    instance, call = start_first_contact(engine)
    engine.suspend(instance["id"], actor="boss")
    assert engine.instance(instance["id"])["status"] == "suspended"
    with pytest.raises(Conflict, match="suspended"):
        engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")
    engine.resume(instance["id"], actor="boss")
    assert engine.instance(instance["id"])["status"] == "user_input"
    engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")


def test_a_failing_script_puts_the_instance_in_error_with_an_incident_and_retry_runs_it_again(engine):
    engine.deploy([bpmn_file("script_failure.bpmn")])
    instance = engine.instance(engine.start("script_failure"))
    engine.complete_task(instance["tasks"][0]["id"], {"total": 10, "people": 0}, actor="li")
    failed = engine.instance(instance["id"])
    assert failed["status"] == "error"
    assert failed["incident"]["element_id"] == "divide"
    assert "ZeroDivisionError" in failed["incident"]["message"]
    # The agent's input was kept: it is the script that failed, not the completion.
    assert failed["variables"]["people"] == 0
    engine.retry(instance["id"], actor="boss")
    again = engine.instance(instance["id"])
    assert again["status"] == "error" and "ZeroDivisionError" in again["incident"]["message"]
    assert [e["action"] for e in engine.events(instance["id"])[0]][-1] == "retried"


def test_a_script_that_tries_to_escape_at_run_time_fails_as_an_incident(engine):
    # Task data reaching a script cannot smuggle in what the sandbox refuses at deploy time.
    engine.deploy([bpmn_file("script_failure.bpmn")])
    instance = engine.instance(engine.start("script_failure"))
    engine.complete_task(instance["tasks"][0]["id"], {"total": "x", "people": 2}, actor="li")
    failed = engine.instance(instance["id"])
    assert failed["status"] == "error" and "TypeError" in failed["incident"]["message"]


def test_a_message_reaches_the_instance_waiting_for_it(engine):
    engine.deploy([bpmn_file("message_wait.bpmn")])
    waiting = engine.start("message_wait", business_key="C-7")
    other = engine.start("message_wait", business_key="C-8")
    assert engine.instance(waiting)["status"] == "waiting"
    with pytest.raises(NotFound, match="no process instance with business key 'C-9'"):
        engine.correlate_message("customer_replied", business_key="C-9")
    delivered = engine.correlate_message("customer_replied", business_key="C-7", variables={"reply": "好的"})
    assert delivered == [waiting]
    got = engine.instance(waiting)
    assert got["status"] == "user_input" and got["variables"]["reply"] == "好的"
    assert engine.instance(other)["status"] == "waiting"
    with pytest.raises(NotFound):
        engine.correlate_message("customer_replied", business_key="C-7")


def test_a_loop_of_two_thousand_iterations_runs_to_its_end(engine):
    engine.deploy([bpmn_file("loop.bpmn")])
    instance = engine.instance(engine.start("loop", variables={"target": 2000}))
    assert instance["variables"]["counter"] == 2000
    assert instance["status"] == "user_input"
    assert [t["element_id"] for t in instance["tasks"]] == ["review"]
    engine.complete_task(instance["tasks"][0]["id"])
    assert engine.instance(instance["id"])["status"] == "complete"


def test_persistence_changes_nothing_a_user_sees(engine):
    """The same inputs, run once with a save and load between every step (the engine) and once in memory,
    end with the same variables and the same path."""
    from engine.workflow.parsing import SourceFile, parse_files
    from engine.workflow.state import new_workflow, variables_of

    name, content = bpmn_file("first_contact.bpmn")
    spec, subs = parse_files([SourceFile(name, content)]).spec_for("first_contact")
    memory = new_workflow(spec, subs, engine.script_engine)
    memory.task_tree.data.update({"owner": "li"})
    memory.do_engine_steps()
    inputs = [{"outcome": "no_answer", "note": "忙"}, {"budget": 800}]
    path = []
    for values in inputs:
        task = memory.ready_human_tasks()[0]
        path.append(task.task_spec.bpmn_id)
        task.data.update(values)
        task.run()
        memory.do_engine_steps()

    instance, _ = start_first_contact(engine)
    stored_path = []
    for values in inputs:
        task = engine.instance(instance["id"])["tasks"][0]
        stored_path.append(task["element_id"])
        engine.complete_task(task["id"], values, actor="li")
    assert stored_path == path
    assert engine.instance(instance["id"])["variables"] == variables_of(memory)
    assert engine.instance(instance["id"])["status"] == "complete" and memory.completed


def test_an_optional_field_left_empty_is_still_a_variable(engine):
    instance, call = start_first_contact(engine)
    engine.complete_task(call["id"], {"outcome": "reached"}, actor="wang")
    variables = engine.instance(instance["id"])["variables"]
    assert "note" in variables and variables["note"] is None


def test_a_message_skips_a_suspended_instance_and_reaches_the_others(engine):
    engine.deploy([bpmn_file("message_wait.bpmn")])
    paused = engine.start("message_wait", business_key="C-7")
    active = engine.start("message_wait", business_key="C-7")
    engine.suspend(paused, actor="boss")
    assert engine.correlate_message("customer_replied", business_key="C-7") == [active]
    assert engine.instance(paused)["status"] == "suspended"
    with pytest.raises(Conflict, match="suspended"):
        engine.correlate_message("customer_replied", business_key="C-7")


def test_an_endless_script_is_stopped_and_becomes_an_incident(engine, monkeypatch):
    body = ('<bpmn:scriptTask id="spin"><bpmn:script>n = 0\nwhile True:\n    try:\n        n = n + 1\n'
            '    except Exception:\n        pass</bpmn:script></bpmn:scriptTask>')
    engine.deploy([("spin.bpmn", diagram(body=body, body_id="spin"))])
    monkeypatch.setattr(engine.script_engine.environment, "time_limit", 0.3)
    instance = engine.instance(engine.start("p"))
    assert instance["status"] == "error"
    assert instance["incident"]["element_id"] == "spin"
    assert "ran longer than 0.3 s" in instance["incident"]["message"]


def test_a_bare_except_is_refused_at_deploy_time(engine):
    body = '<bpmn:scriptTask id="s"><bpmn:script>try:\n    x = 1\nexcept:\n    pass</bpmn:script></bpmn:scriptTask>'
    with pytest.raises(DeploymentError, match="bare 'except:'"):
        engine.deploy([("p.bpmn", diagram(body=body, body_id="s"))])


def load_state_variables(engine, state):
    from engine.workflow.state import load_state, variables_of
    spec, subprocess_specs = engine.definitions.specs.get(None, engine.definition("first_contact"))
    return variables_of(load_state(state, spec, subprocess_specs, None))


def test_a_value_strict_json_cannot_hold_survives_save_and_restore(engine_each):
    """State is read by orjson, which refuses NaN; Python's json writes it: the standard reader takes over.
    Where the value meets JSON columns and the API (the description, the audit trail), it reads "NaN"."""
    engine_each.deploy([bpmn_file("first_contact.bpmn")])
    instance_id = engine_each.start("first_contact", "C-1", {"owner": "li", "ratio": float("nan")}, actor="system")
    instance = engine_each.instance(instance_id)
    assert instance["variables"]["ratio"] == "NaN"
    started = engine_each.events(instance_id)[0][0]
    assert started["detail"]["changes"]["ratio"] == [None, "NaN"]  # the audit trail names it
    step = engine_each.complete_task(instance["tasks"][0]["id"], {"outcome": "reached"}, actor="li")
    assert step.status == "user_input"
    with engine_each.db.connect() as conn:
        state = conn.execute(sa.select(instances.c.state).where(instances.c.id == instance_id)).scalar_one()
    assert math.isnan(load_state_variables(engine_each, state)["ratio"])
