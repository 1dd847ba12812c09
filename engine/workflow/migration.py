"""Moving a running workflow onto another version of its spec, and moving one token by hand: pure
SpiffWorkflow, no SQL (engine/instances/migration.py does it for stored instances, one transaction each).

Built on SpiffWorkflow's own diff (`SpiffWorkflow.bpmn.util.diff`): `SpecDiff` aligns the old version's
task specs with the new one's by id (then by structure), and says which changed. On top of it:
- an explicit map (old element id -> new id) for elements that were renamed or moved;
- tokens stay where they are with the same task ids (so open tasks keep their assignee and claim, and
  timers their due time); only a token whose element *changed* is reset in place, which re-reads its
  definition (a changed timer counts again from the migration; a changed form is the new form);
- tokens whose element is gone, and history (completed tasks) on elements that are gone, make the
  workflow unmovable unless mapped: its state would no longer load;
- the result is proved by a round trip through the serializer with the new specs before anyone saves it.
"""
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict
from engine.workflow.state import dump_state, load_state, spec_registry

TOKEN_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE


class Unmovable(Conflict):
    """The workflow cannot be moved; the message says why, naming the elements (a 409 where it reaches
    the API, and never an incident: nothing was changed)."""


@dataclass
class Outcome:
    """What moving one workflow did (or would do)."""
    tokens: list = field(default_factory=list)    # element ids where the workflow waits, before
    changed: list = field(default_factory=list)   # ... of those, the ones whose definition changed
    mapped: dict = field(default_factory=dict)    # old element id -> new, as applied


def _mapped_name(name, mapping):
    """A task spec's name under `mapping` (element ids; `review.BoundaryEventSplit` follows `review`)."""
    for old, new in mapping.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


def _spec_diff(original, new, mapping):
    diff = SpecDiff(spec_registry(), original, new)
    for old_spec in list(diff.alignment):
        target = _mapped_name(old_spec.name, mapping)
        if target is None:
            continue
        candidate = new.task_specs.get(target)
        if candidate is None:
            raise Unmovable(f"the map names '{target}', which the new version does not have")
        diff.alignment[old_spec] = candidate
        diff.comparisons[old_spec] = ["name"] if candidate.name != old_spec.name else diff._compare_task_specs(
            old_spec, candidate)
        if candidate in diff.added:
            diff.added.remove(candidate)
    return diff


def _element(task):
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


def _move_one(workflow, spec, diff: WorkflowDiff, outcome: Outcome, mapping):
    gone = [t for t in diff.removed if t.state & (TOKEN_STATES | TaskState.COMPLETED | TaskState.CANCELLED)]
    if gone:
        names = sorted({_element(t) for t in gone})
        where = "waits at" if any(t.state & TOKEN_STATES for t in gone) else "has passed"
        raise Unmovable(f"the instance {where} {', '.join(names)}, which the new version does not have "
                        f"(map it to an element of the new version: {names[0]}=NEW_ID)")
    changed = set(diff.changed)
    workflow.spec = spec
    for task in workflow.tasks.values():
        aligned = diff.alignment.get(task)
        if aligned is not None:
            task.task_spec = aligned
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id not in workflow.tasks:
            continue  # dropped with an ancestor reset a moment ago
        outcome.tokens.append(_element(task))
        if task in changed:
            outcome.changed.append(_element(task))
            task.reset_branch(None)
        else:  # the element is the same; what comes after it may not be: predict it again from the new spec
            task._drop_children(force=True)
            task.task_spec._predict(task, mask=PREDICTED | task.state)
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None


def move_workflow(workflow, spec, subprocess_specs, script_engine, mapping=None) -> tuple:
    """Move `workflow` (changed in place: load a fresh one for each try) onto `spec`/`subprocess_specs`.
    Returns (the moved workflow as loaded back from its state, Outcome). Raises Unmovable."""
    mapping = dict(mapping or {})
    outcome = Outcome(mapped=mapping)
    top = WorkflowDiff(workflow, _spec_diff(workflow.spec, spec, mapping))
    sub_diffs = {}
    for sp_id, sub in workflow.subprocesses.items():
        new_spec = subprocess_specs.get(sub.spec.name)
        if new_spec is None:
            if any(t.state & TOKEN_STATES for t in sub.tasks.values()):
                raise Unmovable(f"the instance runs the subprocess '{sub.spec.name}', which the new version "
                                "does not have")
            continue
        sub_diffs[sp_id] = (sub, new_spec, WorkflowDiff(sub, _spec_diff(sub.spec, new_spec, mapping)))
    _move_one(workflow, spec, top, outcome, mapping)
    for sub, new_spec, diff in sub_diffs.values():
        _move_one(sub, new_spec, diff, outcome, mapping)
    workflow.subprocess_specs = subprocess_specs
    workflow.do_engine_steps()
    try:  # what would be saved must load again with the new specs
        return load_state(dump_state(workflow), spec, subprocess_specs, script_engine), outcome
    except Exception as err:  # noqa: BLE001 - any failure means the move is not safe
        raise Unmovable(f"the moved state does not load with the new version ({type(err).__name__}: {err})") from None


def active_task(workflow, element_id):
    """The token at `element_id`: a READY, WAITING or failed (ERROR) task. Raises Unmovable when the
    instance does not wait there."""
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR):
        if _element(task) == element_id:
            return task
    raise Unmovable(f"the instance does not wait at '{element_id}'")


def _boundary_events_of(task):
    """The events waiting on `task`'s boundary (its siblings under a BoundaryEventSplit), if it is the
    task they are attached to."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    if parent.task_spec.name.rsplit(".", 1)[0] != task.task_spec.name:
        return []
    return [t for t in parent.children if t is not task and t.state & TaskState.WAITING]


def skip(workflow, element_id):
    """Complete the task or event at `element_id` without running it (no form, no script)."""
    task = active_task(workflow, element_id)
    task.complete()
    workflow.do_engine_steps()


def move_token(workflow, from_element, to_element):
    """Cancel the token at `from_element` and start one at `to_element` (an element of the same process
    or subprocess). The task keeps its id; what it starts is `to_element`'s definition."""
    task = active_task(workflow, from_element)
    for event in _boundary_events_of(task):  # the token leaves the task: its deadlines go with it
        event.cancel()
    process = task.workflow
    target = process.spec.task_specs.get(to_element)
    if target is None:
        raise Unmovable(f"'{to_element}' is not an element of the process '{process.spec.name}' "
                        f"where '{from_element}' waits")
    task._drop_children(force=True)
    task.task_spec = target
    task.internal_data = {}
    task._set_state(TaskState.FUTURE)
    target._predict(task, mask=PREDICTED)
    target._update(task)
    workflow.do_engine_steps()
