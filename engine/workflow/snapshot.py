"""What a workflow is waiting for, read off its task tree after every change.

The rows derived here (human tasks, timers, message waits) are written in the same transaction as the
state they come from, so the database never says a task is ready that the state does not.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.status import InstanceStatus
from engine.workflow.service_tasks import OperationServiceTask
from engine.workflow.state import all_tasks

ACTIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class Snapshot:
    status: str
    human_tasks: dict = field(default_factory=dict)   # task id -> row values
    timers: dict = field(default_factory=dict)        # task id -> {"element_id", "due_at"}
    messages: dict = field(default_factory=dict)      # task id -> message name
    external_tasks: dict = field(default_factory=dict)  # task id -> row values (a worker's to do)
    error_task: object = None


def parse_utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, dict):  # a cycle timer: {"cycles", "next", "duration"}
        if value.get("cycles") == 0:
            return None
        value = value.get("next")
    if isinstance(value, str):
        value = TimerEventDefinition.get_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _timer_definitions(event_definition):
    if isinstance(event_definition, TimerEventDefinition):
        return [event_definition]
    if isinstance(event_definition, MultipleEventDefinition):
        return [d for d in event_definition.event_definitions if isinstance(d, TimerEventDefinition)]
    return []


def timer_due(task) -> datetime | None:
    """When a waiting timer task fires, from the value SpiffWorkflow computed for it."""
    if not _timer_definitions(getattr(task.task_spec, "event_definition", None)):
        return None
    return parse_utc(task.internal_data.get("event_value"))


def boundary_due(task) -> datetime | None:
    """The earliest due time of the timers attached to a user task."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [timer_due(sibling) for sibling in parent.children
            if sibling is not task and sibling.state == TaskState.WAITING]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def _evaluate(task, python):
    """A Camunda expression of the task (translated at parse time); None when it cannot be evaluated yet."""
    try:
        return task.workflow.script_engine.evaluate(task, python)
    except Exception:  # noqa: BLE001 - a variable not set yet: no assignee / no groups, as in Camunda's null
        return None


def resolve_assignee(task):
    python = getattr(task.task_spec, "assignee_python", None)
    if python:
        value = _evaluate(task, python)
        return str(value) if value else None
    expression = getattr(task.task_spec, "assignee_expression", None)
    if not expression:
        return None
    expression = expression.strip()
    if expression.startswith("${") and expression.endswith("}"):
        value = task.data.get(expression[2:-1].strip())
        return str(value) if value else None
    return expression


def human_task_row(task, instance, now):
    spec = task.task_spec
    groups = list(getattr(spec, "candidate_groups", None) or [])
    if getattr(spec, "candidate_groups_python", None):
        value = _evaluate(task, spec.candidate_groups_python)
        value = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
        groups = [str(g).strip() for g in value if str(g).strip()]
    if not groups and spec.lane:
        groups = [spec.lane]
    return {
        "id": str(task.id),
        "instance_id": instance["id"],
        "process_key": instance["process_key"],
        "business_key": instance["business_key"],
        "element_id": spec.bpmn_id,
        "name": spec.bpmn_name or spec.bpmn_id,
        "lane": spec.lane,
        "candidate_groups": groups,
        "assignee": resolve_assignee(task),
        "form": list(getattr(spec, "form_fields", None) or []),
        "due_at": boundary_due(task),
        "created_at": now,
        "title": _title(task),
    }


def external_task_row(task, instance, now):
    spec = task.task_spec
    return {
        "id": str(task.id),
        "instance_id": instance["id"],
        "process_key": instance["process_key"],
        "business_key": instance["business_key"],
        "element_id": spec.bpmn_id,
        "topic": spec.operation_name,
        "priority": getattr(spec, "priority", 0) or 0,
        "retries": task.internal_data.get("external_retries"),
        "properties": getattr(spec, "extension_properties", None) or None,  # set when an incident was resolved
        "variables": {**task.data, **task.internal_data.get("external_inputs", {})},
        "created_at": now,
    }


def _title(task):
    """What the task is about, for the inbox: the `title` variable (a follow-up task's), else None."""
    title = task.data.get("title")
    return title.strip()[:300] or None if isinstance(title, str) else None


def take(workflow, instance, now) -> Snapshot:
    """`instance` needs id, process_key and business_key."""
    snap = Snapshot(status=InstanceStatus.WAITING)
    for task in all_tasks(workflow):
        state = task.state
        if state == TaskState.READY and task.task_spec.manual:
            snap.human_tasks[str(task.id)] = human_task_row(task, instance, now)
        elif state == TaskState.STARTED and isinstance(task.task_spec, OperationServiceTask):
            snap.external_tasks[str(task.id)] = external_task_row(task, instance, now)
        elif state == TaskState.ERROR and snap.error_task is None:
            snap.error_task = task
    for task in list(workflow.event_manager.tasks.values()):
        if task.state != TaskState.WAITING:
            continue
        definition = task.task_spec.event_definition
        due = timer_due(task)
        if due is not None:
            snap.timers[str(task.id)] = {"element_id": task.task_spec.bpmn_id or task.task_spec.name, "due_at": due}
        names = [d.name for d in getattr(definition, "event_definitions", [definition])
                 if isinstance(d, MessageEventDefinition)]
        if names:
            snap.messages[str(task.id)] = names[0]
    if snap.error_task is not None:
        snap.status = InstanceStatus.ERROR
    elif workflow.completed:
        snap.status = InstanceStatus.COMPLETE
    elif snap.human_tasks:
        snap.status = InstanceStatus.USER_INPUT
    return snap


def active_element_ids(workflow) -> list[str]:
    ids = []
    for task in all_tasks(workflow):
        if task.state & ACTIVE_STATES and task.task_spec.bpmn_id and task.task_spec.bpmn_id not in ids:
            ids.append(task.task_spec.bpmn_id)
    return ids
