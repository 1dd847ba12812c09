"""The changes an instance can go through, each a function `apply(conn, loaded) -> Step`.

`InstanceStore.change` runs one of them inside the instance's transaction; raising aborts everything.
"""
import uuid

import sqlalchemy as sa
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from dataclasses import dataclass, field

from engine import clock
from engine.errors import Conflict, InvalidInput
from engine.instances.views import json_safe
from engine.storage.schema import audit_events, users
from engine.workflow.timer_values import shift_relative_timers
from engine.status import FINAL, PARKED, InstanceStatus
from engine.workflow import forms
from engine.workflow.parsing import start_form
from engine.workflow.snapshot import Snapshot, take
from engine.workflow.state import all_tasks, variables_of


@dataclass
class Step:
    """What a change did, for the audit trail."""
    action: str
    task_id: str | None = None
    element_id: str | None = None
    detail: dict = field(default_factory=dict)
    completed: tuple | None = None  # (task id, actor) of the human task this step completes
    instance_id: str | None = None  # once saved: the instance it changed
    status: str | None = None  # ... its new status
    open_tasks: tuple = ()     # once saved: ids of its open human tasks
    # What the step decides beyond the workflow's own state (not written to the audit detail):
    incident: dict | None = None   # an incident this step raised (the instance goes to error)
    clears_incident: bool = False  # the incident is over (retry)
    sets_status: InstanceStatus | None = None  # CANCELLED or SUSPENDED, whatever the workflow says
    resumes: bool = False          # a suspended instance moves again
    rewrites_tasks: bool = False   # open tasks kept may now read differently (a migration, a repair)
    incident_keeps_state: bool = False  # the incident's change cannot be stored: the state before it is kept


def data_changes(before: dict, after: dict) -> dict:
    changes = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = [old, new]
    return json_safe(changes)


class Loaded:
    """An instance row and its workflow, as loaded inside a transaction."""

    def __init__(self, row, workflow, snapshot: Snapshot):
        self.row = row
        self.workflow = workflow
        self.before = snapshot




def require_active(loaded: Loaded, allow_suspended=False):
    """Refuse (Conflict) to change an instance that has ended, or is suspended unless allowed."""
    status = loaded.row.status
    if status in FINAL:
        raise Conflict(f"process instance '{loaded.row.id}' is {status}")
    if status == InstanceStatus.SUSPENDED and not allow_suspended:
        raise Conflict(f"process instance '{loaded.row.id}' is suspended; resume it first")


def _run_recording(store, loaded: Loaded, step: Step, action=None) -> Step:
    before = variables_of(loaded.workflow)
    incident = store._run(loaded.workflow, step, action)
    changes = data_changes(before, variables_of(loaded.workflow))
    if changes:
        step.detail["changes"] = changes
    if incident:
        step.incident = incident
    return step


def _check_users(conn, fields, values):
    """Form fields with the `user` constraint must name an active user (a lead assigned by hand to
    '不存在的人' would be owned by nobody who can work it)."""
    named = {f["id"]: values[f["id"]] for f in fields if f.get("user") and values.get(f["id"])}
    if not named:
        return
    active = {r.name for r in conn.execute(sa.select(users.c.name).where(
        users.c.name.in_([str(v) for v in named.values()]), users.c.active.is_(True)))}
    errors = {k: [f"no active user named '{v}'"] for k, v in named.items() if str(v) not in active}
    if errors:
        raise InvalidInput("; ".join(f"{k}: {m[0]}" for k, m in errors.items()), errors)


def complete_task(store, task_id, values, actor, check_values=None):
    """`check_values(form)`: called with the task's form fields before the values are checked against
    them (the field rules of engine/access.py: a hidden variable only through a field that asks for it)."""
    def apply(conn, loaded: Loaded):
        require_active(loaded)
        task_row = loaded.before.human_tasks.get(task_id)
        if task_row is None:
            raise Conflict(f"task '{task_id}' is no longer open: it was completed or cancelled")
        if check_values is not None:
            check_values(task_row["form"])
        cleaned = forms.validate(task_row["form"], values or {}, reserved=store.reserved_names())
        _check_users(conn, task_row["form"], cleaned)
        task = loaded.workflow.get_task_from_id(uuid.UUID(task_id))
        step = Step("task_completed", task_id, task.task_spec.bpmn_id, completed=(task_id, actor))

        def complete():
            task.data.update(cleaned)
            task.run()

        _run_recording(store, loaded, step, complete)
        for hook in store.on_task_completed:  # handed down by Engine (the customer timeline records it)
            hook(conn, loaded.row.business_key, task_id, task_row["name"], actor, clock.now())
        return step
    return apply


def fire_timer(store, timer_id):
    """Fire the instance's due timers. Idempotent: a timer that already fired, or whose task is gone,
    or that is not due yet, changes nothing (returns None)."""
    def apply(conn, loaded: Loaded):
        if loaded.row.status in FINAL | PARKED:
            return None
        timer = loaded.before.timers.get(timer_id)
        if timer is None or timer["due_at"] > clock.now():
            return None
        step = Step("timer_fired", timer_id, timer["element_id"], detail={"due_at": timer["due_at"].isoformat()})
        _run_recording(store, loaded, step, loaded.workflow.refresh_timers)
        if timer_id in store_snapshot_timers(loaded) and not step.incident:
            # SpiffWorkflow did not see it as due (clock skew of a few microseconds); try again later.
            return None
        return step
    return apply


def store_snapshot_timers(loaded: Loaded):
    """Timer task ids still waiting with an unchanged due time after the step."""
    after = take(loaded.workflow, loaded.row._mapping, clock.now()).timers
    return {k for k, v in after.items() if loaded.before.timers.get(k, {}).get("due_at") == v["due_at"]}


def deliver_message(store, name, variables, actor):
    """Deliver to this instance if it waits for `name`; a suspended or finished one is skipped (None)."""
    def apply(conn, loaded: Loaded):
        if loaded.row.status in FINAL | {InstanceStatus.SUSPENDED}:
            return None
        waiting = [t for t in loaded.workflow.event_manager.tasks.values()
                   if t.state == TaskState.WAITING and loaded.before.messages.get(str(t.id)) == name]
        if not waiting:
            return None
        target = waiting[0]
        forms.validate([], variables or {}, reserved=store.reserved_names())
        step = Step("message_received", str(target.id), target.task_spec.bpmn_id, detail={"message": name})

        def catch():
            target.data.update(variables or {})
            definition = target.task_spec.event_definition
            for candidate in getattr(definition, "event_definitions", [definition]):
                if getattr(candidate, "name", None) == name:
                    definition = candidate
            loaded.workflow.catch(BpmnEvent(definition, payload=dict(variables or {})))

        return _run_recording(store, loaded, step, catch)
    return apply


def cancel(store, reason=None, actor=None):
    def apply(conn, loaded: Loaded):
        require_active(loaded, allow_suspended=True)
        variables = variables_of(loaded.workflow)
        loaded.workflow.cancel()
        for hook in store.on_cancelled:
            hook(conn, loaded.row.business_key, variables, actor, clock.now())
        return Step("cancelled", detail={"reason": reason} if reason else {}, sets_status=InstanceStatus.CANCELLED)
    return apply


def suspend(store):
    def apply(conn, loaded: Loaded):
        require_active(loaded)
        return Step("suspended", sets_status=InstanceStatus.SUSPENDED)
    return apply


def resume(store):
    """Continue a suspended instance. A relative deadline (a duration, a cycle) keeps the time it had left:
    it moves by the time the instance was suspended. An absolute date does not move; one that passed
    meanwhile is fired by the timers right after, as the engine's act (actor `timer`), not the resumer's."""
    def apply(conn, loaded: Loaded):
        if loaded.row.status != InstanceStatus.SUSPENDED:
            raise Conflict(f"process instance '{loaded.row.id}' is not suspended (it is {loaded.row.status})")
        since = conn.execute(sa.select(audit_events.c.at).where(
            audit_events.c.instance_id == loaded.row.id, audit_events.c.action == "suspended")
            .order_by(audit_events.c.id.desc()).limit(1)).scalar()
        paused = clock.now() - clock.utc(since) if since is not None else None
        step = Step("resumed", resumes=True)
        if paused is not None and paused.total_seconds() > 0:
            moved = shift_relative_timers(loaded.workflow, paused)
            if moved:
                step.detail["deadlines_moved_by_seconds"] = round(paused.total_seconds(), 3)
        return _run_recording(store, loaded, step)
    return apply


def retry(store, variables=None):
    """Run the failed task again (after the cause was fixed, e.g. a redeployed script or data).
    `variables`: corrected values set on the failed task before it runs again (checked against the
    process's start form, if it has one), e.g. a start date that was mistyped."""
    def apply(conn, loaded: Loaded):
        if loaded.row.status != InstanceStatus.ERROR:
            raise Conflict(f"process instance '{loaded.row.id}' has no incident to retry (it is {loaded.row.status})")
        corrected = forms.validate(start_form(loaded.workflow.spec), variables or {}, others_allowed=True) \
            if variables else {}
        failed = [t for t in all_tasks(loaded.workflow) if t.state == TaskState.ERROR]
        step = Step("retried", clears_incident=True)

        def rerun():
            if corrected:
                loaded.workflow.data.update(corrected)
            for task in failed:
                task.data.update(corrected)
                task._set_state(TaskState.READY)

        return _run_recording(store, loaded, step, rerun)
    return apply


def set_variables(store, modifications=None, deletions=()):
    """Set and remove process variables (Camunda's POST /process-instance/{id}/variables): on every task
    still to run and on the last that ran, so what the instance reads next and what it shows agree."""
    def apply(conn, loaded: Loaded):
        require_active(loaded, allow_suspended=True)
        before = variables_of(loaded.workflow)
        targets = [t for t in all_tasks(loaded.workflow)
                   if t.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED)]
        if loaded.workflow.last_task is not None:
            targets.append(loaded.workflow.last_task)
        for task in targets:
            task.data.update(modifications or {})
            for name in deletions or ():
                task.data.pop(name, None)
        step = Step("variables_changed")
        changes = data_changes(before, variables_of(loaded.workflow))
        if changes:
            step.detail["changes"] = changes
        return step
    return apply
