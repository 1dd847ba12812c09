"""One-row changes to human tasks: claim, release, assign; and reading one task.

These change the task row (and write an audit event) without loading the workflow: who holds a task is
not part of the instance's state. A claim is one conditional UPDATE, so two agents claiming at once
get one winner and one `Conflict`. The agent loop's claim is a single statement on backends that can
(`Backend.one_statement_save`): UPDATE ... RETURNING with its audit row as a CTE, the reach condition
inside; anything it cannot decide (a refusal) goes the long way, which tells which error it is.
"""
import sqlalchemy as sa

from engine import access, clock
from engine.clock import utc
from engine.errors import Conflict, NotFound
from engine.identity import User
from engine.instances.views import task_dict
from engine.storage.backend import backend_for
from engine.storage.database import reader, retrying
from engine.storage.schema import audit_events, human_tasks


class Tasks:
    def __init__(self, db, on_assigned=()):
        """`on_assigned`: hooks `(conn, business_key, user, previous, actor, at)` run in the transaction
        of a supervisor's reassignment (Engine hands the customer hub's: a lead follows its task)."""
        self.db = db
        self.on_assigned = list(on_assigned)
        self.backend = backend_for(db)
        self._claim_statements = {}

    def missing(self, conn, task_id):
        """Raise what a task id that names no open task means: Conflict if it was completed, else NotFound."""
        done = conn.execute(sa.select(audit_events.c.actor, audit_events.c.at).where(
            audit_events.c.task_id == task_id, audit_events.c.action == "task_completed")).first()
        if done is not None:
            raise Conflict(f"task '{task_id}' was already completed by {done.actor or 'the engine'} "
                           f"at {utc(done.at).isoformat()}")
        raise NotFound(f"no open task with id '{task_id}'")

    def get(self, task_id) -> dict:
        with reader(self.db).connect() as conn:
            row = conn.execute(sa.select(human_tasks).where(human_tasks.c.id == task_id)).first()
            if row is None:
                self.missing(conn, task_id)
            return task_dict(row)

    def claim(self, task_id, user, actor=None):
        """Take an open task. Someone else holding it: Conflict."""
        return self._set_assignee(task_id, user, actor or user, "claimed",
                                  sa.or_(human_tasks.c.assignee.is_(None), human_tasks.c.assignee == user))

    def claim_in_one_statement(self, task_id, user: User) -> dict | None:
        """The agent loop's claim in ONE statement, its own transaction: the task is taken when it is
        open, in the user's reach (`access.task_reach_sql`) and free or already theirs; the same statement
        writes the audit event. Returns the task, or None when any of that does not hold (and always on
        a backend without one-statement writes): the caller then goes the long way. The caller checks
        the right to claim first."""
        if not self.backend.one_statement_save:
            return None
        key = (user.name, user.role, user.groups)
        statement = self._claim_statements.get(key)
        if statement is None:
            if len(self._claim_statements) > 1000:
                self._claim_statements.clear()
            statement = self._claim_statements[key] = _claim_statement(user)

        def claim():
            with reader(self.db).connect() as conn:
                return conn.execute(statement, {"c_task": task_id, "c_now": clock.now()}).first()
        row = retrying(claim)
        return task_dict(row) if row is not None else None

    def unclaim(self, task_id, user, actor=None):
        return self._set_assignee(task_id, None, actor or user, "unclaimed", human_tasks.c.assignee == user)

    def assign(self, task_id, user, actor):
        """A supervisor's move: give the task to `user` whoever holds it now."""
        return self._set_assignee(task_id, user, actor, "assigned", sa.true())

    def _set_assignee(self, task_id, user, actor, action, condition):
        return retrying(lambda: self._set_assignee_once(task_id, user, actor, action, condition))

    def _set_assignee_once(self, task_id, user, actor, action, condition):
        now = clock.now()
        with self.db.begin() as conn:
            previous = conn.execute(sa.select(human_tasks.c.assignee).where(human_tasks.c.id == task_id)).first() \
                if action == "assigned" and self.on_assigned else None
            row = conn.execute(human_tasks.update().where(human_tasks.c.id == task_id, condition)
                               .values(assignee=user, claimed_at=now if user else None)
                               .returning(*human_tasks.c)).first()
            if row is None:
                holder = conn.execute(sa.select(human_tasks.c.assignee).where(human_tasks.c.id == task_id)).first()
                if holder is None:
                    self.missing(conn, task_id)
                if action == "unclaimed":
                    raise Conflict(f"task '{task_id}' is not held by you: "
                                   + (f"{holder.assignee} holds it" if holder.assignee else "nobody holds it"),
                                   assignee=holder.assignee)
                raise Conflict(f"task '{task_id}' is already claimed by {holder.assignee}", assignee=holder.assignee)
            if action == "assigned" and user:
                for hook in self.on_assigned:
                    hook(conn, row.business_key, user, previous and previous.assignee, actor, now)
            conn.execute(audit_events.insert().values(instance_id=row.instance_id, at=now, actor=actor,
                                                      action=f"task_{action}", task_id=task_id,
                                                      element_id=row.element_id, detail={"assignee": user}))
            return task_dict(row)


def _claim_statement(user: User):
    """Built once per user (building it costs more than running it); the task id and time are bound."""
    now = sa.bindparam("c_now", type_=human_tasks.c.claimed_at.type)
    claimed = (human_tasks.update()
               .where(human_tasks.c.id == sa.bindparam("c_task"),
                      sa.or_(human_tasks.c.assignee.is_(None), human_tasks.c.assignee == user.name),
                      access.task_reach_sql(user))
               .values(assignee=user.name, claimed_at=now).returning(*human_tasks.c).cte("claimed"))
    audited = audit_events.insert().from_select(
        ["instance_id", "at", "actor", "action", "task_id", "element_id", "detail"],
        sa.select(claimed.c.instance_id, now, sa.literal(user.name, audit_events.c.actor.type),
                  sa.literal("task_claimed"), claimed.c.id, claimed.c.element_id,
                  sa.literal({"assignee": user.name}, audit_events.c.detail.type))).cte("audited")
    return sa.select(claimed).add_cte(audited)
