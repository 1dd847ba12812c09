"""The changes an instance can go through, each a function `apply(conn, loaded) -> Step`.

`InstanceStore.change` runs one of them inside the instance's transaction; raising aborts everything.
"""
import uuid

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from dataclasses import dataclass, field

from engine import clock
from engine.errors import Conflict
from engine.instances.views import json_safe
from engine.status import FINAL, PARKED, InstanceStatus
from engine.workflow import forms
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




def _require_active(loaded: Loaded, allow_suspended=False):
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


def complete_task(store, task_id, values, actor):
    def apply(conn, loaded: Loaded):
        _require_active(loaded)
        task_row = loaded.before.human_tasks.get(task_id)
        if task_row is None:
            raise Conflict(f"task '{task_id}' is no longer open: it was completed or cancelled")
        cleaned = forms.validate(task_row["form"], values or {}, reserved=store.reserved_names())
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


def cancel(store, reason=None):
    def apply(conn, loaded: Loaded):
        _require_active(loaded, allow_suspended=True)
        loaded.workflow.cancel()
        return Step("cancelled", detail={"reason": reason} if reason else {}, sets_status=InstanceStatus.CANCELLED)
    return apply


def suspend(store):
    def apply(conn, loaded: Loaded):
        _require_active(loaded)
        return Step("suspended", sets_status=InstanceStatus.SUSPENDED)
    return apply


def resume(store):
    def apply(conn, loaded: Loaded):
        if loaded.row.status != InstanceStatus.SUSPENDED:
            raise Conflict(f"process instance '{loaded.row.id}' is not suspended (it is {loaded.row.status})")
        step = Step("resumed", resumes=True)
        return _run_recording(store, loaded, step, loaded.workflow.refresh_timers)
    return apply


def retry(store):
    """Run the failed task again (after the cause was fixed, e.g. a redeployed script or data)."""
    def apply(conn, loaded: Loaded):
        if loaded.row.status != InstanceStatus.ERROR:
            raise Conflict(f"process instance '{loaded.row.id}' has no incident to retry (it is {loaded.row.status})")
        failed = [t for t in all_tasks(loaded.workflow) if t.state == TaskState.ERROR]
        step = Step("retried", clears_incident=True)

        def rerun():
            for task in failed:
                task._set_state(TaskState.READY)

        return _run_recording(store, loaded, step, rerun)
    return apply
