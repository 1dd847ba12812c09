"""Process instances: every change loads the state, applies one step, and writes the state together
with its derived rows (human tasks, timers, message waits) and one audit event, in one transaction.

Concurrency is optimistic: the instance row carries a `revision`; a write that finds it changed is
retried from a fresh load when that is safe (the step re-checks what it needs, e.g. that the task is
still ready), else it ends in `Conflict`.
"""
import json
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine import clock, context as operations_context
from engine.workflow import forms
from engine.background import outbox
from engine.errors import Conflict, NotFound
from engine.workflow.snapshot import Snapshot, active_element_ids, take
from engine.storage.database import is_transient
from engine.storage.schema import audit_events, human_task_groups, human_tasks, instances, message_waits, timers
from engine.workflow.state import dump_state, load_state, new_workflow, variables_of

RETRIES = 5
FINAL_STATUSES = ("complete", "cancelled")


# Statements of the hot path, built once: constructing SQLAlchemy expressions per call costs about as much
# as the database round trip itself.
_UPDATE_INSTANCE = instances.update().where(instances.c.id == sa.bindparam("b_id"),
                                            instances.c.revision == sa.bindparam("b_revision"))
_DELETE_COMPLETED_TASK = human_tasks.delete().where(
    human_tasks.c.id == sa.bindparam("b_id"),
    sa.or_(human_tasks.c.assignee.is_(None), human_tasks.c.assignee == sa.bindparam("b_actor")))
_INSERT_AUDIT = audit_events.insert()
_TABLES_WITH_GONE_ROWS = {t.name: t for t in (human_tasks, timers, message_waits)}
_DELETE_BY_ID = {name: table.delete().where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
                 for name, table in _TABLES_WITH_GONE_ROWS.items()}


def _delete_by_id_array(table, param):
    """PostgreSQL: DELETE ... WHERE id = ANY(array), one statement text whatever the number of ids (an
    expanding IN is rendered again on every call)."""
    return table.delete().where(table.c.id == sa.any_(sa.bindparam(param, type_=postgresql.ARRAY(table.c.id.type))))


_DELETE_BY_ID_ARRAY = {name: _delete_by_id_array(table, "ids") for name, table in _TABLES_WITH_GONE_ROWS.items()}
_INSERT = {table.name: table.insert() for table in (human_tasks, human_task_groups, timers, message_waits)}
_UPDATE_TIMER_DUE = timers.update().where(timers.c.id == sa.bindparam("b_id")).values(
    due_at=sa.bindparam("due_at"), attempts=0, enqueued_at=None)


class _Stale(Exception):
    """The instance changed under us; load again."""


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


def utc(value):
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _json_safe(value):
    """`value` as JSON columns can hold it: unknown types as text, NaN and Infinity as their names."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False), parse_constant=str)


def data_changes(before: dict, after: dict) -> dict:
    changes = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = [old, new]
    return _json_safe(changes)


class Loaded:
    """An instance row and its workflow, as loaded inside a transaction."""

    def __init__(self, row, workflow, snapshot: Snapshot):
        self.row = row
        self.workflow = workflow
        self.before = snapshot


class InstanceStore:
    def __init__(self, db, definitions, script_engine):
        self.db = db
        self.definitions = definitions
        self.script_engine = script_engine

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
        row, workflow = self.workflow(conn, instance_id)
        definition = self.definitions.by_id(conn, row.definition_id)
        tasks = conn.execute(sa.select(human_tasks).where(human_tasks.c.instance_id == instance_id)
                             .order_by(human_tasks.c.created_at)).all()
        pending = conn.execute(sa.select(timers).where(timers.c.instance_id == instance_id)
                               .order_by(timers.c.due_at)).all()
        return {
            "id": row.id, "process_key": row.process_key, "version": definition.version,
            "business_key": row.business_key, "status": row.status,
            "variables": _json_safe(variables_of(workflow)),
            "tasks": [task_dict(t) for t in tasks],
            "timers": [{"id": t.id, "element_id": t.element_id, "due_at": utc(t.due_at)} for t in pending],
            "active_element_ids": active_element_ids(workflow),
            "incident": row.incident, "started_by": row.started_by,
            "started_at": utc(row.started_at), "updated_at": utc(row.updated_at), "ended_at": utc(row.ended_at),
        }

    # ---- writing -------------------------------------------------------------------------------
    def start(self, definition, business_key=None, variables=None, actor=None, instance_id=None,
              prepare=None, conn=None) -> str:
        """`instance_id`: a caller-chosen id (a timer launcher's, so a repeated launch collides);
        `prepare(workflow)`: called before the first engine steps; `conn`: start inside that connection's
        transaction (a service task starting another SOP), in a savepoint, so both commit or neither."""
        variables = forms.validate([], variables or {})
        instance_id = instance_id or str(uuid.uuid4())
        if conn is not None:
            with outbox.separate_buffer(), operations_context.scope(self) as ops, conn.begin_nested():
                self._start_in(conn, ops, definition, business_key, variables, actor, instance_id, prepare)
            return instance_id
        outbox.discard()
        with operations_context.scope(self) as ops, self.db.begin() as conn:
            self._start_in(conn, ops, definition, business_key, variables, actor, instance_id, prepare)
        return instance_id

    def _start_in(self, conn, ops, definition, business_key, variables, actor, instance_id, prepare):
        now = clock.now()
        ops.attach(conn, instance_id, business_key, definition.key, actor)  # for service-task operations
        spec, subprocess_specs = self.definitions.specs.get(conn, definition)
        workflow = new_workflow(spec, subprocess_specs, self.script_engine)
        workflow.task_tree.data.update(variables)
        for task in workflow.get_tasks(state=TaskState.READY):  # the start task carries the data on
            task.data.update(variables)
        if prepare is not None:
            prepare(workflow)
        identity = {"id": instance_id, "process_key": definition.key, "business_key": business_key}
        step = Step("started", detail={"changes": data_changes({}, variables)})
        incident = self._run(workflow, step)
        snap = take(workflow, identity, now)
        status = "error" if incident else snap.status
        conn.execute(instances.insert().values(
            id=instance_id, definition_id=definition.id, process_key=definition.key,
            business_key=business_key, status=status, revision=1, state=dump_state(workflow),
            incident=incident, started_by=actor, started_at=now, updated_at=now,
            ended_at=now if status in FINAL_STATUSES else None))
        self._sync_rows(conn, identity, Snapshot("new"), snap)
        self._audit(conn, instance_id, actor, step, now)
        outbox.flush(conn, instance_id, now)

    def change(self, select_row, actor, apply, retry=True, missing=None, locked=False, params=None):
        """Lock and load the row `select_row` picks (with `params` for its bound parameters),
        `apply(conn, loaded) -> Step`, save.

        A concurrent change found at save time is retried from a fresh load when `retry`; `missing()`
        raises the error for a row that is not there. `locked`: `select_row` says itself what it locks
        (FOR UPDATE OF the instance, when it joins other tables); else it is locked here.
        """
        lock = select_row if locked else select_row.with_for_update()
        for attempt in range(RETRIES):
            outbox.discard()
            try:
                with operations_context.scope(self) as ops, self.db.begin() as conn:
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
        writes = RowWrites()
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(instances).where(instances.c.id.in_(sorted(first_key)))
                                .order_by(instances.c.id).with_for_update()).all()
            for row in rows:
                key = first_key[row.id]
                outbox.discard()
                with operations_context.scope(self) as ops:
                    loaded = self._load(conn, row)
                    ops.attach(conn, row.id, row.business_key, row.process_key, actor)
                    step = make_apply(key)(conn, loaded)
                    if step is not None:
                        self._save(conn, loaded, step, actor, writes)
                    results[key] = step
            writes.flush(conn)
        return results

    def _run(self, workflow, step, action=None):
        """Run engine steps (after `action`, if given); a script failure becomes an incident."""
        try:
            if action is not None:
                action()
            workflow.do_engine_steps()
            return None
        except SpiffWorkflowException as err:
            task = getattr(err, "task", None)
            step.detail["error"] = str(err)
            return {
                "task_id": str(task.id) if task is not None else None,
                "element_id": task.task_spec.bpmn_id if task is not None else None,
                "message": str(err),
                "traceback": "".join(traceback.format_exception_only(err)).strip()[-2000:],
                "at": clock.now().isoformat(),
            }

    def _save(self, conn, loaded: Loaded, step: Step, actor, writes=None):
        """Write the instance's new state with its derived rows and one audit event. With `writes`, the
        row changes are collected there (a batch flushes them together); else they go out at once."""
        flush_now = writes is None
        writes = writes if writes is not None else RowWrites(one=conn.dialect.name == "postgresql")
        now = clock.now()
        row, workflow = loaded.row, loaded.workflow
        snap = take(workflow, row._mapping, now)
        status = snap.status
        if "incident" in step.detail:
            incident = step.detail.pop("incident")
        else:
            incident = row.incident if status == "error" else None
        if incident and status not in FINAL_STATUSES:
            status = "error"
        if step.detail.pop("cancelled", False):
            status, incident = "cancelled", None
        elif step.detail.pop("suspend", False):
            status = "suspended"
        elif row.status == "suspended" and not step.detail.pop("resume", False) and status != "error":
            status = "suspended"
        ended_at = now if status in FINAL_STATUSES and row.ended_at is None else row.ended_at
        writes.instance_updates.append({
            "state": dump_state(workflow), "status": status, "revision": row.revision + 1, "updated_at": now,
            "incident": incident, "ended_at": ended_at, "b_id": row.id, "b_revision": row.revision})
        if status == "cancelled":
            snap = Snapshot(status)
        step.instance_id, step.status, step.open_tasks = row.id, status, tuple(snap.human_tasks)
        self._sync_rows(conn, row._mapping, loaded.before, snap, step.completed, writes)
        writes.audit(row.id, actor, step, now)
        outbox.flush(conn, row.id, now)
        if row.status in ("suspended", "error") and status not in ("suspended", "error"):
            # Timers parked while the instance could not move go back to the scheduler (engine/scheduler.py).
            conn.execute(timers.update().where(timers.c.instance_id == row.id, timers.c.enqueued_at.is_not(None))
                         .values(enqueued_at=None, lease_until=None, job_id=None, attempts=0))
        if flush_now:
            writes.flush(conn)

    def _sync_rows(self, conn, identity, before: Snapshot, after: Snapshot, completed=None, writes=None):
        flush_now = writes is None
        writes = writes if writes is not None else RowWrites()
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
                {"task_id": task_id, "group_name": g} for g in sorted(set(task["candidate_groups"])))
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
        if flush_now:
            writes.flush(conn)

    @staticmethod
    def _audit(conn, instance_id, actor, step: Step, now):
        conn.execute(_INSERT_AUDIT, audit_row(instance_id, actor, step, now))


def _refuse_completion(conn, task_id):
    holder = conn.execute(sa.select(human_tasks.c.assignee).where(human_tasks.c.id == task_id)).scalar()
    raise Conflict(f"task '{task_id}' is claimed by {holder}; only they can complete it", assignee=holder)


def _save_one_statement(completing: bool, deleting=()):
    """One instance's save in ONE statement (PostgreSQL): the audit INSERT, the DELETEs of the rows that
    are gone from the tables named in `deleting` (tasks, timers, message waits) and, for a completion, the
    DELETE of the completed task (only if unclaimed or held by the completer) ride as CTEs on the
    instance's UPDATE, which returns a row only when the revision still matches, with how many tasks the
    completion's DELETE removed."""
    audit = audit_events.insert().values(
        {c: sa.bindparam(f"a_{c}", type_=audit_events.c[c].type)
         for c in ("instance_id", "at", "actor", "action", "task_id", "element_id", "detail")}).cte("audit")
    update = _UPDATE_INSTANCE.values(
        {c: sa.bindparam(c, type_=instances.c[c].type)
         for c in ("state", "status", "revision", "updated_at", "incident", "ended_at")}).add_cte(audit)
    for name in deleting:
        update = update.add_cte(_delete_by_id_array(_TABLES_WITH_GONE_ROWS[name], f"d_{name}").cte(f"gone_{name}"))
    if not completing:
        return update.returning(instances.c.id)
    done = (human_tasks.delete().where(human_tasks.c.id == sa.bindparam("c_id"),
                                       sa.or_(human_tasks.c.assignee.is_(None),
                                              human_tasks.c.assignee == sa.bindparam("c_actor")))
            .returning(human_tasks.c.id).cte("done"))
    return update.add_cte(done).returning(
        instances.c.id, sa.select(sa.func.count()).select_from(done).scalar_subquery().label("done"))


_save_statements = {}


def _save_one(completing: bool, deleting: tuple):
    key = (completing, deleting)
    statement = _save_statements.get(key)
    if statement is None:  # at most 2 x 8 shapes
        statement = _save_statements[key] = _save_one_statement(completing, deleting)
    return statement


def audit_row(instance_id, actor, step: Step, now) -> dict:
    return {"instance_id": instance_id, "at": now, "actor": actor, "action": step.action, "task_id": step.task_id,
            "element_id": step.element_id, "detail": _json_safe(step.detail) if step.detail else None}


class RowWrites:
    """The row changes of one or many instance saves, sent as one statement per kind of change.

    A batch of timer firings collects every instance's writes here and flushes once: a handful of
    statements for fifty instances instead of seven each.
    """

    def __init__(self, one=False):
        self.one = one  # one instance's save on PostgreSQL: update, audit and completion in one statement
        self.completed = None  # (task id, actor), with `one`: the completed task's delete, sent with the update
        self.instance_updates = []
        self.deletes = {t.name: [] for t in (human_tasks, timers, message_waits)}
        self.inserts = {t.name: [] for t in (human_tasks, human_task_groups, timers, message_waits)}
        self.timer_updates = []
        self.audits = []

    def audit(self, instance_id, actor, step, now):
        self.audits.append(audit_row(instance_id, actor, step, now))

    def flush(self, conn):
        if self.one and len(self.instance_updates) == 1 and len(self.audits) == 1:
            params = {**self.instance_updates[0], **{f"a_{k}": v for k, v in self.audits[0].items()}}
            if self.completed is not None:
                params["c_id"], params["c_actor"] = self.completed
            deleting = tuple(name for name, ids in self.deletes.items() if ids)
            for name in deleting:
                params[f"d_{name}"] = list(self.deletes[name])
                self.deletes[name] = []
            saved = conn.execute(_save_one(self.completed is not None, deleting), params).first()
            if saved is None:
                raise _Stale()
            if self.completed is not None and saved.done != 1:
                _refuse_completion(conn, self.completed[0])
            self.instance_updates, self.audits, self.completed = [], [], None
        elif self.completed is not None:  # not the one-statement shape after all: as before, first
            done = conn.execute(_DELETE_COMPLETED_TASK, {"b_id": self.completed[0], "b_actor": self.completed[1]})
            if done.rowcount != 1:
                _refuse_completion(conn, self.completed[0])
        if self.instance_updates:
            done = conn.execute(_UPDATE_INSTANCE, self.instance_updates)
            if done.rowcount != len(self.instance_updates):
                raise _Stale()
        deletes = _DELETE_BY_ID_ARRAY if conn.dialect.name == "postgresql" else _DELETE_BY_ID
        for name, ids in self.deletes.items():
            if ids:
                conn.execute(deletes[name], {"ids": list(ids)})
        for name in (human_tasks.name, human_task_groups.name, timers.name, message_waits.name):
            if self.inserts[name]:
                conn.execute(_INSERT[name], self.inserts[name])
        if self.timer_updates:
            conn.execute(_UPDATE_TIMER_DUE, self.timer_updates)
        if self.audits:
            conn.execute(_INSERT_AUDIT, self.audits)
        self.__init__(self.one)


_TASK_COLUMNS = tuple(human_tasks.c.keys())  # a row of `select(human_tasks)` starts with these, in order


def task_dict(row) -> dict:
    """A human task row (of `select(human_tasks)`, possibly with more columns after) as a dict."""
    if row._fields[:len(_TASK_COLUMNS)] != _TASK_COLUMNS:
        row = tuple(getattr(row, name) for name in _TASK_COLUMNS)  # another shape: by name
    (task_id, instance_id, process_key, business_key, element_id, name, lane, candidate_groups, assignee, form,
     due_at, created_at, claimed_at) = row[:len(_TASK_COLUMNS)]  # by position: far cheaper than by name
    return {
        "id": task_id, "name": name, "element_id": element_id, "instance_id": instance_id,
        "process_key": process_key, "business_key": business_key, "lane": lane,
        "candidate_groups": list(candidate_groups or []), "assignee": assignee,
        "due_at": utc(due_at), "created_at": utc(created_at), "claimed_at": utc(claimed_at),
        "form": form or [],
    }
