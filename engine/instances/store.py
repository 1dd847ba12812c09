"""Process instances: every change loads the state, applies one step, and writes the state together
with its derived rows (human tasks, timers, message waits) and one audit event, in one transaction.

Concurrency is optimistic: the instance row carries a `revision`; a write that finds it changed is
retried from a fresh load when that is safe (the step re-checks what it needs, e.g. that the task is
still ready), else it ends in `Conflict`.
"""
import time
import traceback
import uuid

import sqlalchemy as sa
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine import clock, context, fastjson
from engine.config import Limits
from engine.clock import utc
from engine.errors import Conflict, FollowupError, NotFound
from engine.instances.steps import Loaded, Step, data_changes
from engine.instances.views import json_safe, task_dict
from engine.instances.writes import (_DELETE_COMPLETED_TASK, _INSERT_AUDIT, RowWrites, _refuse_completion, _Stale,
                                     audit_row, write_messages)
from engine.status import FINAL, PARKED, InstanceStatus
from engine.storage.backend import backend_for
from engine.storage.database import is_transient
from engine.storage.schema import (external_tasks, human_task_groups, human_tasks, instances, message_waits, outbox,
                                   timers)
from engine.workflow import forms
from engine.workflow.parsing import start_form
from engine.workflow.snapshot import Snapshot, active_element_ids, take
from engine.workflow.state import all_tasks, dump_state, load_state, new_workflow, variables_of

RETRIES = 5


def message_status(row) -> dict:
    """An outbox row as a person reads it: sent, pending (to be tried, maybe again) or failed (gave up)."""
    status = "sent" if row.sent_at is not None else "pending" if row.next_attempt_at is not None else "failed"
    payload = row.payload or {}
    return {"id": row.id, "channel": payload.get("channel"), "text": payload.get("text"), "status": status,
            "attempts": row.attempts, "last_error": row.last_error, "created_at": utc(row.created_at),
            "sent_at": utc(row.sent_at)}


class InstanceStore:
    """`on_task_completed`: callables `(conn, business_key, task_id, task_name, actor, at)` run inside a
    completion's transaction (handed down by `Engine`: the customer timeline records the completion)."""

    def __init__(self, db, definitions, script_engine, on_task_completed=(), on_cancelled=()):
        """`on_cancelled`: callables `(conn, business_key, variables, actor, at)` run inside the
        transaction that cancels an instance (the customer hub closes the ticket it opened)."""
        self.db = db
        self.backend = backend_for(db)
        self.definitions = definitions
        self.script_engine = script_engine
        self.on_task_completed = tuple(on_task_completed)
        self.on_cancelled = tuple(on_cancelled)

    # ---- reading -------------------------------------------------------------------------------
    def _specs(self, conn, definition_id):
        return self.definitions.specs.get(conn, self.definitions.by_id(conn, definition_id))

    def _load(self, conn, row) -> Loaded:
        spec, subprocess_specs = self._specs(conn, row.definition_id)
        workflow = load_state(row.state, spec, subprocess_specs, self.script_engine)
        return Loaded(row, workflow, take(workflow, row._mapping, utc(row.updated_at)))

    def row(self, conn, instance_id):
        row = conn.execute(sa.select(instances).where(instances.c.id == instance_id)).first()
        if row is None:
            raise NotFound(f"no process instance with id '{instance_id}'")
        return row

    def workflow(self, conn, instance_id):
        row = self.row(conn, instance_id)
        spec, subprocess_specs = self._specs(conn, row.definition_id)
        return row, load_state(row.state, spec, subprocess_specs, self.script_engine)

    def describe(self, conn, instance_id) -> dict:
        """The instance as the API shows it, with the notifications it sent and how their delivery went."""
        row, workflow = self.workflow(conn, instance_id)
        definition = self.definitions.by_id(conn, row.definition_id)
        tasks = conn.execute(sa.select(human_tasks).where(human_tasks.c.instance_id == instance_id)
                             .order_by(human_tasks.c.created_at)).all()
        pending = conn.execute(sa.select(timers).where(timers.c.instance_id == instance_id)
                               .order_by(timers.c.due_at)).all()
        return {
            "id": row.id, "process_key": row.process_key, "version": definition.version,
            "business_key": row.business_key, "status": row.status,
            "variables": json_safe(variables_of(workflow)),
            "tasks": [task_dict(t) for t in tasks],
            "timers": [{"id": t.id, "element_id": t.element_id, "due_at": utc(t.due_at)} for t in pending],
            "active_element_ids": active_element_ids(workflow),
            "messages": [message_status(m) for m in conn.execute(
                sa.select(outbox).where(outbox.c.instance_id == instance_id).order_by(outbox.c.id))],
            "incident": row.incident, "started_by": row.started_by,
            "started_at": utc(row.started_at), "updated_at": utc(row.updated_at), "ended_at": utc(row.ended_at),
        }

    # ---- writing -------------------------------------------------------------------------------
    def start(self, definition, business_key=None, variables=None, actor=None, instance_id=None,
              prepare=None, conn=None) -> str:
        """`instance_id`: a caller-chosen id (a timer launcher's, so a repeated launch collides);
        `prepare(workflow)`: called before the first engine steps; `conn`: start inside that connection's
        transaction (a service task starting another SOP), in a savepoint, so both commit or neither."""
        variables = forms.validate([], variables or {}, reserved=self.reserved_names())
        instance_id = instance_id or str(uuid.uuid4())
        if conn is not None:
            with context.scope(self) as ops, conn.begin_nested():
                self._start_in(conn, ops, definition, business_key, variables, actor, instance_id, prepare)
            return instance_id
        with context.scope(self) as ops, self.db.begin() as conn:
            self._start_in(conn, ops, definition, business_key, variables, actor, instance_id, prepare)
        return instance_id

    @property
    def limits(self) -> Limits:
        return getattr(self.script_engine, "limits", None) or Limits()

    def reserved_names(self) -> frozenset:
        names = getattr(self.script_engine, "reserved_names", None)
        return names() if names is not None else frozenset()

    def _start_in(self, conn, ops, definition, business_key, variables, actor, instance_id, prepare):
        now = clock.now()
        ops.attach(conn, instance_id, business_key, definition.key, actor)  # for service-task operations
        spec, subprocess_specs = self.definitions.specs.get(conn, definition)
        fields = start_form(spec)
        if fields:  # what the process needs, checked before anything runs: a bad start is a 422, not an incident
            variables = forms.validate(fields, variables, others_allowed=True)

        def fresh():
            workflow = new_workflow(spec, subprocess_specs, self.script_engine)
            workflow.task_tree.data.update(variables)
            for task in workflow.get_tasks(state=TaskState.READY):  # the start task carries the data on
                task.data.update(variables)
            if prepare is not None:
                prepare(workflow)
            return workflow

        workflow = fresh()
        identity = {"id": instance_id, "process_key": definition.key, "business_key": business_key,
                    "definition_id": definition.id}
        step = Step("started", detail={"changes": data_changes({}, variables)})
        incident = self._run(workflow, step)
        state = step.__dict__.pop("_state", None)
        if state is None and not step.incident_keeps_state:  # after an incident: can what is left be stored?
            try:
                state = dump_state(workflow)
            except Exception as err:  # noqa: BLE001 - a value JSON cannot hold, or no memory left for it
                step.incident_keeps_state = True
                incident = incident or self._incident(step, err, workflow.last_task, "a variable holds a value that "
                                                      f"cannot be stored ({_plain_error(err)})")
        if step.incident_keeps_state:  # what the steps made cannot be stored: keep the instance as started
            workflow = fresh()
            state = dump_state(workflow)
        snap = take(workflow, identity, now)
        status = InstanceStatus.ERROR if incident else snap.status
        conn.execute(instances.insert().values(
            id=instance_id, definition_id=definition.id, process_key=definition.key,
            business_key=business_key, status=status, revision=1, state=state or dump_state(workflow),
            incident=incident, started_by=actor, started_at=now, updated_at=now,
            ended_at=now if status in FINAL else None))
        self._sync_rows(conn, identity, Snapshot("new"), snap)
        self._audit(conn, instance_id, actor, step, now)
        write_messages(conn, instance_id, now)

    def change_in(self, conn, select_row, actor, apply):
        """`change` inside the caller's transaction, in a savepoint (as `start(conn=...)`): a record's change
        that makes a running SOP wrong changes it too, or neither. No retry: the caller's transaction owns
        the row locks. Returns the step, or None when `apply` made none (or there was no row)."""
        with context.scope(self) as ops, conn.begin_nested():
            row = conn.execute(select_row.with_for_update()).first()
            if row is None:
                return None
            loaded = self._load(conn, row)
            ops.attach(conn, row.id, row.business_key, row.process_key, actor)
            step = apply(conn, loaded)
            if step is not None:
                self._save(conn, loaded, step, actor)
            return step

    def cancel_in(self, conn, instance_id, actor, reason, only_if=None) -> bool:
        """Cancel a running instance inside the caller's transaction (`change_in`). `only_if(variables)`:
        cancel only an instance whose variables pass. Returns whether it was cancelled."""
        from engine.instances.steps import cancel

        def apply(conn, loaded):
            if loaded.row.status in FINAL or (only_if is not None and not only_if(variables_of(loaded.workflow))):
                return None
            return cancel(self, reason, actor)(conn, loaded)

        select = sa.select(instances).where(instances.c.id == instance_id)
        return self.change_in(conn, select, actor, apply) is not None

    def change(self, select_row, actor, apply, retry=True, missing=None, locked=False, params=None):
        """Lock and load the row `select_row` picks (with `params` for its bound parameters),
        `apply(conn, loaded) -> Step`, save.

        A concurrent change found at save time is retried from a fresh load when `retry`; `missing()`
        raises the error for a row that is not there. `locked`: `select_row` says itself what it locks
        (FOR UPDATE OF the instance, when it joins other tables); else it is locked here.
        """
        lock = select_row if locked else select_row.with_for_update()
        for attempt in range(RETRIES):
            try:
                with context.scope(self) as ops, self.db.begin() as conn:
                    row = conn.execute(lock, params).first()
                    if row is None:
                        missing(conn)
                        return None  # a `missing` that does not raise: nothing to change
                    loaded = self._load(conn, row)
                    ops.attach(conn, row.id, row.business_key, row.process_key, actor)
                    step = apply(conn, loaded)
                    if step is None:
                        return None
                    self._save(conn, loaded, step, actor)
                    return step
            except _Stale:
                if not retry or attempt == RETRIES - 1:
                    raise Conflict("the process instance was changed by someone else at the same moment; "
                                   "load it again and retry") from None
            except sa.exc.DBAPIError as err:
                if not is_transient(err) or attempt == RETRIES - 1:
                    raise
        return None

    def change_each(self, targets, actor, make_apply):
        """Apply one change to each of several instances in ONE transaction, their row writes sent
        together (what lets workers fire thousands of due timers a second).

        `targets`: (key, instance id) pairs; instances are locked in id order, so two batches cannot
        deadlock; an instance named twice is changed for its first key only (the others answer None and
        come back in a later batch). If anything fails, the batch is rolled back and every change is
        made again in a transaction of its own, so one bad instance costs the others nothing.
        Returns {key: Step | None | Exception}.
        """
        first_key = {}
        for key, instance_id in targets:
            first_key.setdefault(instance_id, key)
        results = {key: None for key, instance_id in targets if first_key[instance_id] != key}
        try:
            results.update(self._change_batch(first_key, actor, make_apply))
        except Exception:  # noqa: BLE001 - rolled back; redo one by one to find and isolate the cause
            for instance_id, key in first_key.items():
                select = sa.select(instances).where(instances.c.id == instance_id)
                try:
                    results[key] = self.change(select, actor, make_apply(key), missing=lambda conn: None)
                except Exception as err:  # noqa: BLE001 - reported per key
                    results[key] = err
        return results

    def _change_batch(self, first_key, actor, make_apply):
        results = {}
        writes = RowWrites(self.backend)
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(instances).where(instances.c.id.in_(sorted(first_key)))
                                .order_by(instances.c.id).with_for_update()).all()
            for row in rows:
                key = first_key[row.id]
                with context.scope(self) as ops:
                    loaded = self._load(conn, row)
                    ops.attach(conn, row.id, row.business_key, row.process_key, actor)
                    step = make_apply(key)(conn, loaded)
                    if step is not None:
                        self._save(conn, loaded, step, actor, writes)
                    results[key] = step
            writes.flush(conn)
        return results

    def _run(self, workflow, step, action=None):
        """Run engine steps (after `action`, if given); a script failure becomes an incident. What
        scripts printed goes into the step's audit detail."""
        try:
            return self._run_steps(workflow, step, action)
        finally:
            printed = context.take_printed()
            if printed:
                step.detail["printed"] = printed

    def _run_steps(self, workflow, step, action=None):
        """Run engine steps (after `action`, if given) and write the state they leave; a failure becomes an
        incident naming the element: a script's, a limit's (engine/config.py `Limits`), or any other error
        of the library or of the data (a value that cannot be stored). For the last, `step` says that the
        instance keeps its state from before the change (`incident_keeps_state`)."""
        workflow.running_task = None
        started, incident = time.time(), None
        try:
            if action is not None:
                action()
            workflow.do_engine_steps()
        except SpiffWorkflowException as err:
            task = getattr(err, "task", None)
            message, cause = str(err), err.__cause__ or err.__context__
            if cause is not None and str(cause) and str(cause) not in message:  # "Error evaluating ...": say why
                message = f"{message.rstrip('. ')}: {cause}"
            incident = self._incident(step, err, task, message)
        except (FollowupError, sa.exc.SQLAlchemyError, _Stale):
            raise
        except Exception as err:  # noqa: BLE001 - a plain error in the engine's steps: the element's incident
            running = workflow.running_task
            if running is not None and not running.has_state(TaskState.FINISHED_MASK):
                running._set_state(TaskState.ERROR)  # what a retry runs again
            incident = self._incident(step, err, _failed_task(err) or running, _plain_error(err))
        # What this change wrote (the data of the tasks it moved, even a failed script's) must be storable
        # and readable back; it is checked before it is written, within a budget.
        limits = self.limits
        for task in all_tasks(workflow):
            if task.last_state_change >= started or task is workflow.running_task:
                problem = fastjson.problem_in(task.data, limits.max_value_depth, max_items=limits.max_stored_values,
                                              max_chars=limits.max_sequence)
                if problem:
                    step.incident_keeps_state = True
                    return incident or self._incident(step, ValueError(str(problem)), task,
                                                      f"a variable cannot be stored: {problem}")
        try:
            step._state = dump_state(workflow)
        except Exception as err:  # noqa: BLE001 - a script left a value JSON cannot hold
            step.incident_keeps_state = True
            return incident or self._incident(
                step, err, workflow.last_task, "a variable holds a value that cannot be stored "
                f"({_plain_error(err)}); only text, numbers, true/false, lists and objects can")
        return incident

    @staticmethod
    def _incident(step, err, task, message):
        element = task.task_spec.bpmn_id if task is not None else step.element_id
        if element and element not in message:
            message = f"{element}: {message}"
        step.detail["error"] = message
        return {
            "task_id": str(task.id) if task is not None else step.task_id,
            "element_id": element,
            "message": message,
            "traceback": "".join(traceback.format_exception_only(err)).strip()[-2000:],
            "at": clock.now().isoformat(),
        }

    def _save(self, conn, loaded: Loaded, step: Step, actor, writes=None):
        """Write the instance's new state with its derived rows and one audit event. With `writes`, the
        row changes are collected there (a batch flushes them together); else they go out at once."""
        flush_now = writes is None
        writes = writes if writes is not None else RowWrites(self.backend, one=self.backend.one_statement_save)
        now = clock.now()
        row, workflow = loaded.row, loaded.workflow
        state = step.__dict__.pop("_state", None)
        if state is None and not step.incident_keeps_state:
            try:
                state = dump_state(workflow)
            except Exception as err:  # noqa: BLE001 - a value JSON cannot hold (see `_run`), or no memory for it
                step.incident_keeps_state = True
                step.incident = step.incident or self._incident(
                    step, err, workflow.last_task, f"a variable holds a value that cannot be stored ({_plain_error(err)})")
        if step.incident_keeps_state:  # the change made something that cannot be stored: keep the last good state
            state, snap, completed = row.state, loaded.before, None
        else:
            snap, completed = take(workflow, row._mapping, now), step.completed
        status = snap.status
        if step.incident is not None or step.clears_incident:
            incident = step.incident
        else:
            incident = row.incident if status == InstanceStatus.ERROR else None
        if incident and status not in FINAL:
            status = InstanceStatus.ERROR
        elif row.incident and not step.clears_incident and step.sets_status != InstanceStatus.CANCELLED:
            # the failed step is no longer waiting (its task was completed around it): said in this step's event
            step.detail = {**(step.detail or {}), "incident_closed": {
                k: row.incident.get(k) for k in ("element_id", "message") if isinstance(row.incident, dict)}}
        if step.sets_status == InstanceStatus.CANCELLED:
            status, incident = InstanceStatus.CANCELLED, None
        elif step.sets_status == InstanceStatus.SUSPENDED:
            status = InstanceStatus.SUSPENDED
        elif row.status == InstanceStatus.SUSPENDED and not step.resumes and status != InstanceStatus.ERROR:
            status = InstanceStatus.SUSPENDED
        ended_at = now if status in FINAL and row.ended_at is None else row.ended_at
        writes.instance_updates.append({
            "state": state, "status": status, "revision": row.revision + 1, "updated_at": now,
            "incident": incident, "ended_at": ended_at, "b_id": row.id, "b_revision": row.revision})
        if status == InstanceStatus.CANCELLED:
            snap = Snapshot(status)
        step.instance_id, step.status, step.open_tasks = row.id, status, tuple(snap.human_tasks)
        self._sync_rows(conn, row._mapping, loaded.before, snap, completed, writes)
        if step.rewrites_tasks:
            _rewrite_kept_tasks(conn, loaded.before, snap)
        writes.audit(row.id, actor, step, now)
        write_messages(conn, row.id, now)
        if row.status in PARKED and status not in PARKED:
            # Timers parked while the instance could not move go back to the scheduler (background/timers.py).
            conn.execute(timers.update().where(timers.c.instance_id == row.id, timers.c.enqueued_at.is_not(None))
                         .values(enqueued_at=None, lease_until=None, job_id=None, attempts=0))
        if flush_now:
            writes.flush(conn)

    def _sync_rows(self, conn, identity, before: Snapshot, after: Snapshot, completed=None, writes=None):
        flush_now = writes is None
        writes = writes if writes is not None else RowWrites(self.backend)
        gone = before.human_tasks.keys() - after.human_tasks.keys()
        if completed is not None:
            # The task being completed must still be unclaimed or held by its completer: checked by the
            # delete itself, so a claim committed a moment earlier wins.
            task_id, actor = completed
            if writes.one:  # sent with the instance's update (RowWrites.flush), checked there
                writes.completed = completed
            else:
                done = conn.execute(_DELETE_COMPLETED_TASK, {"b_id": task_id, "b_actor": actor})
                if done.rowcount != 1:
                    _refuse_completion(conn, task_id)
            gone = gone - {task_id}
        writes.deletes[human_tasks.name].extend(gone)
        for task_id in after.human_tasks.keys() - before.human_tasks.keys():
            task = after.human_tasks[task_id]
            writes.inserts[human_tasks.name].append(task)
            writes.inserts[human_task_groups.name].extend(
                {"task_id": task_id, "group_name": g, "process_key": task["process_key"], "due_at": task["due_at"],
                 "created_at": task["created_at"]} for g in sorted(set(task["candidate_groups"])))
        instance_id = identity["id"]
        writes.deletes[timers.name].extend(before.timers.keys() - after.timers.keys())
        for timer_id in after.timers.keys() - before.timers.keys():
            timer = after.timers[timer_id]
            writes.inserts[timers.name].append({"id": timer_id, "instance_id": instance_id,
                                                "element_id": timer["element_id"], "due_at": timer["due_at"]})
        for timer_id in before.timers.keys() & after.timers.keys():
            if before.timers[timer_id]["due_at"] != after.timers[timer_id]["due_at"]:  # a cycle re-armed
                writes.timer_updates.append({"b_id": timer_id, "due_at": after.timers[timer_id]["due_at"]})
        writes.deletes[message_waits.name].extend(before.messages.keys() - after.messages.keys())
        for wait_id in after.messages.keys() - before.messages.keys():
            writes.inserts[message_waits.name].append({"id": wait_id, "instance_id": instance_id,
                                                       "message_name": after.messages[wait_id],
                                                       "business_key": identity["business_key"]})
        writes.deletes[external_tasks.name].extend(before.external_tasks.keys() - after.external_tasks.keys())
        for task_id in after.external_tasks.keys() - before.external_tasks.keys():
            writes.inserts[external_tasks.name].append({**after.external_tasks[task_id],
                                                        "definition_id": identity["definition_id"],
                                                        "variables": json_safe(after.external_tasks[task_id]["variables"])})
        if flush_now:
            writes.flush(conn)

    @staticmethod
    def _audit(conn, instance_id, actor, step: Step, now):
        conn.execute(_INSERT_AUDIT, audit_row(instance_id, actor, step, now))


_REWRITTEN = ("element_id", "name", "title", "lane", "candidate_groups", "form", "due_at")


def _rewrite_kept_tasks(conn, before: Snapshot, after: Snapshot):
    """Open tasks that stay open (same id) but whose element now reads differently get their row
    rewritten; who holds them and since when stays as it is."""
    for task_id in before.human_tasks.keys() & after.human_tasks.keys():
        old, new = before.human_tasks[task_id], after.human_tasks[task_id]
        values = {k: new[k] for k in _REWRITTEN if old.get(k) != new.get(k)}
        if not values:
            continue
        conn.execute(human_tasks.update().where(human_tasks.c.id == task_id).values(**values))
        if "candidate_groups" in values:
            conn.execute(human_task_groups.delete().where(human_task_groups.c.task_id == task_id))
            groups = sorted(set(new["candidate_groups"]))
            if groups:
                conn.execute(human_task_groups.insert(), [{"task_id": task_id, "group_name": g} for g in groups])
                # process_key, due_at and created_at: filled from the task by a trigger (migration 0013)


def _failed_task(err):
    """The innermost BPMN task a traceback passes through (SpiffWorkflow's specs call it `my_task`)."""
    found, tb = None, err.__traceback__
    while tb is not None:
        for name in ("my_task", "task"):
            candidate = tb.tb_frame.f_locals.get(name)
            if getattr(getattr(candidate, "task_spec", None), "bpmn_id", None):
                found = candidate
                break
        tb = tb.tb_next
    return found


def _plain_error(err) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
