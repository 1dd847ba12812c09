"""Instances stored before the engine's code moved into packages (issue 10) still load and run on: the
state JSON below was captured from `first_contact` on the old layout (engine/workflow.py)."""
import json
from pathlib import Path

import sqlalchemy as sa

from engine.storage.schema import instances
from engine.workflow.state import dump_state, load_state

CAPTURED = json.loads((Path(__file__).parent / "fixtures" / "state_before_layout.json").read_text())


def test_a_state_stored_before_the_layout_change_loads_and_runs_on(engine, deploy):
    deploy("first_contact.bpmn")
    definition = engine.definition(CAPTURED["process_key"])
    with engine.db.connect() as conn:
        spec, subprocess_specs = engine.definitions.specs.get(conn, definition)
    workflow = load_state(CAPTURED["state"], spec, subprocess_specs, engine.script_engine)
    ready = workflow.ready_human_tasks()
    assert [t.task_spec.bpmn_id for t in ready] and ready[0].data["customer"] == "张三"
    json.loads(dump_state(workflow))  # and it saves again

    # Through the store too: an instance row holding the old state is described like any other.
    instance_id = engine.start(CAPTURED["process_key"], "lead-1", {"customer": "李四", "amount": 1})
    with engine.db.begin() as conn:
        conn.execute(instances.update().where(instances.c.id == instance_id).values(state=CAPTURED["state"]))
    described = engine.instance(instance_id)
    assert described["status"] == CAPTURED["status"]
    assert described["variables"]["customer"] == "张三"
