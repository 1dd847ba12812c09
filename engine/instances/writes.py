"""The row writes of instance saves: the hot statements built once, one instance's save in one
statement on PostgreSQL, batches of saves flushed together (`RowWrites`), the audit row, and the
outbox rows of the messages a change buffered (`write_messages`)."""
import sqlalchemy as sa

from engine import clock, context
from engine.errors import Conflict
from engine.instances.views import json_safe
from engine.storage.schema import (audit_events, external_tasks, human_task_groups, human_tasks, instances, message_waits,
                                   outbox, timers)


# Statements of the hot path, built once: constructing SQLAlchemy expressions per call costs about as much
# as the database round trip itself.
_UPDATE_INSTANCE = instances.update().where(instances.c.id == sa.bindparam("b_id"),
                                            instances.c.revision == sa.bindparam("b_revision"))
_DELETE_COMPLETED_TASK = human_tasks.delete().where(
    human_tasks.c.id == sa.bindparam("b_id"),
    sa.or_(human_tasks.c.assignee.is_(None), human_tasks.c.assignee == sa.bindparam("b_actor")))
_INSERT_AUDIT = audit_events.insert()
_TABLES_WITH_GONE_ROWS = {t.name: t for t in (human_tasks, timers, message_waits, external_tasks)}
_DELETE_BY_IDS = {}  # (backend name, table name) -> the backend's delete by a list of ids


def _delete_gone(backend, name):
    key = (backend.name, name)
    statement = _DELETE_BY_IDS.get(key)
    if statement is None:
        statement = _DELETE_BY_IDS[key] = backend.delete_by_ids(_TABLES_WITH_GONE_ROWS[name])
    return statement


_INSERT = {table.name: table.insert() for table in (human_tasks, human_task_groups, timers, message_waits,
                                                   external_tasks)}
_UPDATE_TIMER_DUE = timers.update().where(timers.c.id == sa.bindparam("b_id")).values(
    due_at=sa.bindparam("due_at"), attempts=0, enqueued_at=None)


class _Stale(Exception):
    """The instance changed under us; load again."""


def _refuse_completion(conn, task_id):
    holder = conn.execute(sa.select(human_tasks.c.assignee).where(human_tasks.c.id == task_id)).scalar()
    raise Conflict(f"task '{task_id}' is claimed by {holder}; only they can complete it", assignee=holder)


def _save_one_statement(backend, completing: bool, deleting=(), inserting=()):
    """One instance's save in ONE statement (PostgreSQL): the audit INSERT, the DELETEs of the rows that
    are gone from the tables named in `deleting` (tasks, timers, message waits), the INSERTs of the new
    rows `inserting` names ((table name, columns, row count): the tasks a completion opens, their groups,
    its timers) and, for a completion, the DELETE of the completed task (only if unclaimed or held by the
    completer) ride as CTEs on the instance's UPDATE, which returns a row only when the revision still
    matches, with how many tasks the completion's DELETE removed. (The constraints and triggers of all of
    them run at the statement's end, so a task group finds its task, inserted beside it.)"""
    audit = audit_events.insert().values(
        {c: sa.bindparam(f"a_{c}", type_=audit_events.c[c].type)
         for c in ("instance_id", "at", "actor", "action", "task_id", "element_id", "detail")}).cte("audit")
    update = _UPDATE_INSTANCE.values(
        {c: sa.bindparam(c, type_=instances.c[c].type)
         for c in ("state", "status", "revision", "updated_at", "incident", "ended_at")}).add_cte(audit)
    for name in deleting:
        update = update.add_cte(backend.delete_by_ids(_TABLES_WITH_GONE_ROWS[name], f"d_{name}").cte(f"gone_{name}"))
    for name, columns, count in inserting:
        table = _TABLES_WITH_NEW_ROWS[name]
        for i in range(count):  # one CTE a row: a multi-row VALUES makes SQLAlchemy compile the statement every time
            row = {c: sa.bindparam(f"n_{name}_{i}_{c}", type_=table.c[c].type) for c in columns}
            update = update.add_cte(table.insert().values(row).cte(f"new_{name}_{i}"))
    if not completing:
        return update.returning(instances.c.id)
    done = (human_tasks.delete().where(human_tasks.c.id == sa.bindparam("c_id"),
                                       sa.or_(human_tasks.c.assignee.is_(None),
                                              human_tasks.c.assignee == sa.bindparam("c_actor")))
            .returning(human_tasks.c.id).cte("done"))
    return update.add_cte(done).returning(
        instances.c.id, sa.select(sa.func.count()).select_from(done).scalar_subquery().label("done"))


_save_statements = {}
_TABLES_WITH_NEW_ROWS = {t.name: t for t in (human_tasks, human_task_groups, timers)}
_NEW_ROWS_IN_ONE = 4  # more new rows of a table than this: their own INSERT, as in a batch (statement shapes stay few)


def _save_one(backend, completing: bool, deleting: tuple, inserting: tuple):
    key = (completing, deleting, inserting)
    statement = _save_statements.get(key)
    if statement is None:  # a bounded number of shapes: 2 x 16 x the few counts and column sets of new rows
        statement = _save_statements[key] = _save_one_statement(backend, completing, deleting, inserting)
    return statement


def _riding_inserts(inserts: dict, params: dict) -> tuple:
    """Take the new rows that can ride on the one-statement save out of `inserts`, into `params`; returns
    their shape ((table name, columns, row count), ...). Rows of one table must share their columns."""
    shape = []
    for name, table in _TABLES_WITH_NEW_ROWS.items():
        rows = inserts[name]
        if not rows or len(rows) > _NEW_ROWS_IN_ONE:
            continue
        columns = tuple(c for c in rows[0] if c in table.c)
        if any(tuple(c for c in row if c in table.c) != columns for row in rows[1:]):
            continue
        for i, row in enumerate(rows):
            for c in columns:
                params[f"n_{name}_{i}_{c}"] = row[c]
        shape.append((name, columns, len(rows)))
        inserts[name] = []
    return tuple(shape)


def audit_row(instance_id, actor, step, now) -> dict:
    return {"instance_id": instance_id, "at": now, "actor": actor, "action": step.action, "task_id": step.task_id,
            "element_id": step.element_id, "detail": json_safe(step.detail) if step.detail else None}


class RowWrites:
    """The row changes of one or many instance saves, sent as one statement per kind of change.

    A batch of timer firings collects every instance's writes here and flushes once: a handful of
    statements for fifty instances instead of seven each.
    """

    def __init__(self, backend, one=False):
        self.backend = backend
        self.one = one  # one instance's save (backend.one_statement_save): update, audit and completion at once
        self.completed = None  # (task id, actor), with `one`: the completed task's delete, sent with the update
        self.instance_updates = []
        self.deletes = {t.name: [] for t in (human_tasks, timers, message_waits, external_tasks)}
        self.inserts = {t.name: [] for t in (human_tasks, human_task_groups, timers, message_waits, external_tasks)}
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
            inserting = _riding_inserts(self.inserts, params)
            saved = conn.execute(_save_one(self.backend, self.completed is not None, deleting, inserting), params).first()
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
        for name, ids in self.deletes.items():
            if ids:
                conn.execute(_delete_gone(self.backend, name), {"ids": list(ids)})
        for name in (human_tasks.name, human_task_groups.name, timers.name, message_waits.name, external_tasks.name):
            if self.inserts[name]:
                conn.execute(_INSERT[name], self.inserts[name])
        if self.timer_updates:
            conn.execute(_UPDATE_TIMER_DUE, self.timer_updates)
        if self.audits:
            conn.execute(_INSERT_AUDIT, self.audits)
        self.__init__(self.backend, self.one)


def write_messages(conn, instance_id, now=None) -> int:
    """Write the messages this change buffered (`context.notify`) as outbox rows in `conn`'s
    transaction: they are delivered only if it commits."""
    messages = context.take_messages()
    for topic, payload in messages:
        add_message(conn, topic, payload, instance_id, now)
    return len(messages)


def add_message(conn, topic, payload, instance_id=None, now=None) -> int:
    """Queue a message in `conn`'s transaction: it is delivered only if that transaction commits."""
    now = now or clock.now()
    return conn.execute(outbox.insert().values(topic=topic, payload=payload, instance_id=instance_id,
                                               created_at=now, next_attempt_at=now)
                        .returning(outbox.c.id)).scalar_one()
