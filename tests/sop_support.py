"""Helpers for the SOP tests: deploy the library from bpmn/, make users and customers, drive timers."""
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from engine import clock
from engine.customers.customers import create_customer
from engine.customers.records import create_record
from engine.customers.vocab import seed_defaults
from engine.identity import IdentityStore
from engine.storage.schema import audit_events, instances, outbox

LIBRARY = Path(__file__).resolve().parent.parent / "bpmn"


def library_files(*names):
    return [(name, (LIBRARY / name).read_bytes()) for name in names]


def deploy_library(engine):
    """Every SOP, each file its own deployment (the lead assignment with its decision table)."""
    engine.deploy(library_files("lead_assignment.bpmn", "lead_routing.dmn"))
    for path in sorted(LIBRARY.glob("*.bpmn")):
        if path.name != "lead_assignment.bpmn":
            engine.deploy(library_files(path.name))


def users(engine, *specs):
    """specs: (name, role, groups)."""
    store = IdentityStore(engine.db)
    for name, role, groups in specs:
        store.add_user(name, role, groups)


def team_setup(engine):
    seed_defaults(engine)
    users(engine, ("wang", "agent", ["sales-east", "sales", "service"]), ("li", "agent", ["sales-east", "sales", "service"]),
          ("zhao", "agent", ["sales-east", "sales"]), ("chen", "supervisor", ["supervisors", "sales-east", "service"]),
          ("boss", "admin", ["managers"]))


def customer(engine, name="上海星辰科技有限公司", owner="wang", **extra):
    record, _ = create_customer(engine, {"name": name, "owner": owner, "team": extra.pop("team", "sales-east"),
                                         **extra}, actor="test")
    return record["id"]


def lead(engine, **data):
    return create_record(engine, "lead", {"name": "张伟", "company": "星辰科技", **data}, actor="test")["id"]


def run_due(engine, rounds=3):
    """Fire due timers until none is left (a fired timer may make another due at the same moment)."""
    total = 0
    for _ in range(rounds):
        fired = engine.fire_due_timers()
        total += fired
        if not fired:
            break
    return total


def move(engine, delta):
    clock.advance(delta)
    return run_due(engine)


def move_to(engine, moment, past=timedelta(seconds=1)):
    clock.advance(moment - clock.now() + past)
    return run_due(engine)


def tasks(engine, instance_id):
    return {t["element_id"]: t for t in engine.instance(instance_id)["tasks"]}


def complete(engine, instance_id, element_id, values=None, actor=None):
    task = tasks(engine, instance_id)[element_id]
    engine.complete_task(task["id"], values or {}, actor=actor or task["assignee"])


def events(engine, action, instance_id=None):
    query = sa.select(audit_events).where(audit_events.c.action == action).order_by(audit_events.c.id)
    if instance_id is not None:
        query = query.where(audit_events.c.instance_id == instance_id)
    with engine.db.connect() as conn:
        return [r.detail for r in conn.execute(query)]


def messages(engine):
    with engine.db.connect() as conn:
        return [r.payload for r in conn.execute(sa.select(outbox).order_by(outbox.c.id))]


def instances_of(engine, process_key):
    with engine.db.connect() as conn:
        return [r.id for r in conn.execute(sa.select(instances.c.id).where(instances.c.process_key == process_key)
                                           .order_by(instances.c.started_at))]
