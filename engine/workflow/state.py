"""SpiffWorkflow, fitted for persistence: a workflow class without the 1000-deep task search, and a
serializer that keeps the process spec out of the stored state.

The spec is stored once per definition version (as its source files) and rebuilt from a cache; each
instance row holds only its task tree and data, about half the bytes and load time of the default.
"""
import json
from contextvars import ContextVar
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine import fastjson
from engine import context
from engine.config import Limits

_specs_for_restore: ContextVar = ContextVar("specs_for_restore")


def all_tasks(workflow):
    """Every task of the workflow and its subprocesses, without the depth limit of the task iterator."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


class FollowupWorkflow(BpmnWorkflow):
    """A BpmnWorkflow whose engine steps find READY tasks by scanning the task table.

    SpiffWorkflow walks the task tree with a depth limit of 1000, so a loop of a few hundred iterations
    used to leave a READY task unseen and the instance looking finished. Scanning `tasks` has no limit.

    One `do_engine_steps` runs at most `Limits.max_steps` automatic tasks (the script engine's `limits`):
    a loop that never waits for a person, a timer or a message stops there, the task it reached goes to
    ERROR and the change ends in an incident naming it. `running_task` is the task running now (so an
    unexpected error can name its element).
    """

    running_task = None
    _steps_left = None

    def _count_step(self, task):
        if self._steps_left is None:
            return
        self._steps_left -= 1
        if self._steps_left < 0:
            limit = getattr(self.script_engine, "limits", Limits()).max_steps
            task._set_state(TaskState.ERROR)
            raise WorkflowTaskException(
                f"this change ran {limit:,} automatic steps without waiting for a person, a timer or a message "
                "(a loop in the diagram?) and was stopped (FOLLOWUP_MAX_STEPS)", task=task)

    def _do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        def ready_automatic(wf):
            return [t for t in list(wf.tasks.values()) if t.state == TaskState.READY and not t.task_spec.manual]

        def update_workflow(wf):
            # Run each READY automatic task, then at once the children it made READY: a loop advances
            # in one pass instead of one full scan per iteration.
            count = 0
            pending = ready_automatic(wf)
            while pending:
                task = pending.pop(0)
                if task.state != TaskState.READY:  # an earlier task in this pass may have cancelled it
                    continue
                self._count_step(task)
                self.running_task = task
                with context.savepoint():  # a task that fails sends nothing (it runs again on retry)
                    task.run()
                self.running_task = None
                count += 1
                pending[:0] = [c for c in task.children
                               if c.state == TaskState.READY and not c.task_spec.manual and c.workflow is wf]
            return count

        active_subprocesses = self.get_active_subprocesses()
        for subprocess in sorted(active_subprocesses, key=lambda v: v.depth, reverse=True):
            count = None
            while count is None or count > 0:
                count = update_workflow(subprocess)
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)

        count = update_workflow(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active_subprocesses)

    def do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        """Run automatic tasks until only people, timers and messages are awaited.

        SpiffWorkflow's version ends with `refresh_timers()`, which can make a due timer READY without
        running it: left so, the timer would vanish from the timers table and never fire. Here the
        refresh is followed by another round for as long as it readies something.
        """
        self._steps_left = getattr(self.script_engine, "limits", Limits()).max_steps
        try:
            for _ in range(10_000):
                while self._do_engine_steps():
                    pass
                self.refresh_timers()
                if not any(t.state == TaskState.READY and not t.task_spec.manual for t in all_tasks(self)):
                    return
            raise RuntimeError("engine steps did not settle after 10,000 timer refreshes")
        finally:
            self._steps_left = None

    def update_waiting_tasks(self):
        """SpiffWorkflow calls this after every task completion, walking the tree from the root with the
        same depth limit: O(tree) per step and blind below depth 1000. A flat scan has neither problem."""
        waiting = TaskState.WAITING
        for task in [t for t in self.tasks.values() if t._state == waiting]:
            task.task_spec._update(task)

    def ready_human_tasks(self):
        return [t for t in all_tasks(self) if t.state == TaskState.READY and t.task_spec.manual]


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves `spec` and `subprocess_specs` out; on restore, takes them from `restore_context`."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = _specs_for_restore.get()
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer():
    config = dict(SPIFF_CONFIG)
    config.pop(BpmnWorkflow)
    config[FollowupWorkflow] = SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_serializer = _make_serializer()


def spec_registry():
    """The serializer's registry: how SpiffWorkflow's diff compares two versions of a task spec."""
    return _serializer.registry


def dump_state(workflow) -> str:
    return _serializer.serialize_json(workflow)


def load_state(state: str, spec, subprocess_specs, script_engine) -> FollowupWorkflow:
    token = _specs_for_restore.set((spec, subprocess_specs))
    try:
        dct = fastjson.loads(state)  # as `_serializer.deserialize_json(state)`, with a faster reader
        _serializer.migrate(dct)
        workflow = _serializer.from_dict(dct)
    finally:
        _specs_for_restore.reset(token)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(spec, subprocess_specs, script_engine) -> FollowupWorkflow:
    return FollowupWorkflow(spec, subprocess_specs, script_engine=script_engine)


_BOUNDARY_PLUMBING = frozenset({"BoundaryEventSplit", "BoundaryEventJoin"})


def variables_of(workflow) -> dict:
    """The instance's variables as a user thinks of them: the data of the task that ran last, else the
    workflow's own data (for a finished instance, what its end event carried)."""
    task = workflow.last_task
    if task is not None and type(task.task_spec).__name__ in _BOUNDARY_PLUMBING:
        # The split/join SpiffWorkflow puts around a task with boundary events finishes after the path the
        # event started (an escalation and the task it reopened): its data is from before that path.
        newer = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
                 if type(t.task_spec).__name__ not in _BOUNDARY_PLUMBING]
        if newer:
            task = max(newer, key=lambda t: t.last_state_change)
    data = dict(task.data) if task is not None else {}
    if workflow.completed:
        data.update(workflow.data)
    return {k: v for k, v in data.items() if not callable(v)}


def to_json_safe(value):
    """Round-trip through the serializer's registry so dates and decimals survive JSON."""
    return json.loads(json.dumps(value, default=str))
