"""`Engine`: the one object the API, the workers and the CLI use.

It owns the database connection, the definition store and the instance store, and offers every
operation as a method that runs in its own transaction.
"""
from datetime import timedelta

import sqlalchemy as sa

from engine import access, clock
from engine.background import outbox
from engine.instances import steps
from engine.calendar import helpers as calendar_helpers, load_calendar
from engine.config import Settings, load_settings
from engine.instances.definitions import DefinitionStore
from engine.errors import Conflict, NotFound
from engine.identity import User
from engine.instances.store import InstanceStore, task_dict, utc
from engine.workflow.parsing import SourceFile
from engine.storage.database import reader
from engine.workflow.sandbox import SandboxScriptEngine
from engine.storage.database import create_db_engine, migrate, retrying
from engine.storage.schema import audit_events, human_tasks, instances, message_waits, timers
from engine.workflow.timer_values import make_timer_value


class Engine:
    def __init__(self, settings: Settings | None = None, db=None):
        self.settings = settings or load_settings()
        self.db = db if db is not None else create_db_engine(self.settings.database_url)
        self.calendar = load_calendar(self.settings.timezone)
        self.script_engine = SandboxScriptEngine({"timer_value": make_timer_value(self.settings.timezone),
                                                  "notify": outbox.notify, **calendar_helpers(self.calendar)})
        self.definitions = DefinitionStore(self.db)
        self.instances = InstanceStore(self.db, self.definitions, self.script_engine)
        self._claim_statements = {}

    def migrate(self):
        migrate(self.db)

    def close(self):
        self.db.dispose()

    # ---- definitions ------------------------------------------------------------------------------
    def deploy(self, files, actor=None):
        """`files`: (name, bytes) pairs or SourceFile objects. Returns the deployed processes."""
        return self.definitions.deploy(_sources(files), actor)

    def validate(self, files):
        return self.definitions.validate(_sources(files))

    def definition(self, key, version=None):
        with reader(self.db).connect() as conn:
            return self.definitions.get(conn, key, version)

    def definition_xml(self, key, version=None) -> bytes:
        with reader(self.db).connect() as conn:
            return self.definitions.xml(conn, self.definitions.get(conn, key, version))

    def list_definitions(self, page=1, page_size=50):
        with reader(self.db).connect() as conn:
            return self.definitions.list_latest(conn, page, page_size)

    # ---- instances ---------------------------------------------------------------------------------
    def start(self, process_key, business_key=None, variables=None, actor=None) -> str:
        definition = self.definition(process_key)
        return self.instances.start(definition, business_key, variables, actor)

    def instance(self, instance_id) -> dict:
        with reader(self.db).connect() as conn:
            return self.instances.describe(conn, instance_id)

    def complete_task(self, task_id, variables=None, actor=None, check=None):
        """Complete an open task with form values. Returns the Step (with the instance's new status and
        open tasks). `check(task)`: called with the task (its row, as `task()` returns it) under the
        instance's lock, before anything else; raising refuses (the API's access check)."""
        apply = steps.complete_task(self.instances, task_id, variables, actor)
        missing = lambda conn: self._task_missing(conn, task_id)  # noqa: E731
        if check is None:
            return self.instances.change(_INSTANCE_OF_TASK, actor, apply, missing=missing, locked=True,
                                         params={"c_task": task_id})

        def checked(conn, loaded):
            row = loaded.row
            check({"id": task_id, "instance_id": row.id, "assignee": row._task_assignee,
                   "candidate_groups": list(row._task_groups or [])})
            return apply(conn, loaded)
        return self.instances.change(_COMPLETE_WITH_TASK, actor, checked, missing=missing, locked=True,
                                     params={"c_task": task_id})

    def _task_missing(self, conn, task_id):
        done = conn.execute(sa.select(audit_events.c.actor, audit_events.c.at).where(
            audit_events.c.task_id == task_id, audit_events.c.action == "task_completed")).first()
        if done is not None:
            raise Conflict(f"task '{task_id}' was already completed by {done.actor or 'the engine'} "
                           f"at {utc(done.at).isoformat()}")
        raise NotFound(f"no open task with id '{task_id}'")

    def _instance_change(self, instance_id, apply, actor=None, retry=True):
        def missing(conn):
            raise NotFound(f"no process instance with id '{instance_id}'")
        return self.instances.change(_INSTANCE_BY_ID, actor, apply, retry=retry, missing=missing, locked=True,
                                     params={"c_instance": instance_id})

    def cancel(self, instance_id, actor=None, reason=None):
        return self._instance_change(instance_id, steps.cancel(self.instances, reason), actor)

    def suspend(self, instance_id, actor=None):
        return self._instance_change(instance_id, steps.suspend(self.instances), actor)

    def resume(self, instance_id, actor=None):
        return self._instance_change(instance_id, steps.resume(self.instances), actor)

    def retry(self, instance_id, actor=None):
        return self._instance_change(instance_id, steps.retry(self.instances), actor)

    def fire_timer(self, timer_id):
        """Fire one timer if it is still pending and due. Returns the Step, or None if nothing was due."""
        return self.instances.change(_INSTANCE_OF_TIMER, "timer", steps.fire_timer(self.instances, timer_id),
                                     missing=lambda conn: None, locked=True, params={"c_timer": timer_id})

    def fire_timers(self, timer_ids) -> dict:
        """Fire several timers in one transaction (a savepoint each). Returns {timer id: Step, or None
        if it was not due or already gone, or the Exception that stopped it}."""
        with reader(self.db).connect() as conn:
            owners = dict(conn.execute(sa.select(timers.c.id, timers.c.instance_id)
                                       .where(timers.c.id.in_(list(timer_ids)))).all())
        results = {timer_id: None for timer_id in timer_ids if timer_id not in owners}
        results.update(self.instances.change_each(
            list(owners.items()), "timer", lambda timer_id: steps.fire_timer(self.instances, timer_id)))
        return results

    def due_timers(self, limit=1000, now=None):
        now = now or clock.now()
        with reader(self.db).connect() as conn:
            return [r.id for r in conn.execute(sa.select(timers.c.id).where(timers.c.due_at <= now)
                                               .order_by(timers.c.due_at).limit(limit))]

    def fire_due_timers(self, limit=1000) -> int:
        """Fire every due timer in this process (the embedded mode and tests). Returns how many fired."""
        fired = 0
        for timer_id in self.due_timers(limit):
            if self.fire_timer(timer_id) is not None:
                fired += 1
        return fired

    def correlate_message(self, name, business_key=None, variables=None, actor=None) -> list[str]:
        """Deliver a message to every instance waiting for it (with that business key, if given)."""
        query = sa.select(message_waits.c.instance_id).where(message_waits.c.message_name == name).distinct()
        if business_key is not None:
            query = query.where(message_waits.c.business_key == business_key)
        with reader(self.db).connect() as conn:
            waiting = [r.instance_id for r in conn.execute(query)]
        if not waiting:
            which = f" with business key '{business_key}'" if business_key is not None else ""
            raise NotFound(f"no process instance{which} is waiting for the message '{name}'")
        delivered = []
        for instance_id in waiting:
            if self._instance_change(instance_id, steps.deliver_message(self.instances, name, variables, actor),
                                     actor) is not None:
                delivered.append(instance_id)
        if not delivered:
            raise Conflict(f"every process instance waiting for the message '{name}' is suspended; "
                           "resume one and send it again")
        return delivered

    # ---- tasks -----------------------------------------------------------------------------------
    def task(self, task_id) -> dict:
        with reader(self.db).connect() as conn:
            row = conn.execute(sa.select(human_tasks).where(human_tasks.c.id == task_id)).first()
            if row is None:
                self._task_missing(conn, task_id)
            return task_dict(row)

    def claim(self, task_id, user, actor=None):
        """Take an open task. Someone else holding it: Conflict."""
        return self._set_assignee(task_id, user, actor or user, "claimed",
                                  sa.or_(human_tasks.c.assignee.is_(None), human_tasks.c.assignee == user))

    def claim_for(self, task_id, user: User) -> dict | None:
        """The agent loop's claim in ONE statement, its own transaction (PostgreSQL): the task is taken
        when it is open, in the user's reach (`access.task_reach_sql`) and free or already theirs; the
        same statement writes the audit event. Returns the task, or None when any of that does not hold
        (and always on SQLite): the caller then goes the long way, which tells which error it is. The
        caller checks the right to claim first."""
        if self.db.dialect.name != "postgresql":
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
            row = conn.execute(human_tasks.update().where(human_tasks.c.id == task_id, condition)
                               .values(assignee=user, claimed_at=now if user else None)
                               .returning(*human_tasks.c)).first()
            if row is None:
                holder = conn.execute(sa.select(human_tasks.c.assignee).where(human_tasks.c.id == task_id)).first()
                if holder is None:
                    self._task_missing(conn, task_id)
                if action == "unclaimed":
                    raise Conflict(f"task '{task_id}' is not held by {user}")
                raise Conflict(f"task '{task_id}' is already claimed by {holder.assignee}", assignee=holder.assignee)
            conn.execute(audit_events.insert().values(instance_id=row.instance_id, at=now, actor=actor,
                                                      action=f"task_{action}", task_id=task_id,
                                                      element_id=row.element_id, detail={"assignee": user}))
            return task_dict(row)

    def events(self, instance_id, page=1, page_size=50):
        with reader(self.db).connect() as conn:
            self.instances.row(conn, instance_id)
            base = sa.select(audit_events).where(audit_events.c.instance_id == instance_id)
            total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
            rows = conn.execute(base.order_by(audit_events.c.id).offset((page - 1) * page_size).limit(page_size))
            return [{"id": r.id, "at": utc(r.at), "actor": r.actor, "action": r.action, "task_id": r.task_id,
                     "element_id": r.element_id, "detail": r.detail} for r in rows], total


# Constant statements (bound parameters, not values): SQLAlchemy finds them compiled already.
_INSTANCE_BY_ID = sa.select(instances).where(instances.c.id == sa.bindparam("c_instance")).with_for_update()
_INSTANCE_OF_TASK = sa.select(instances).where(instances.c.id == sa.select(human_tasks.c.instance_id).where(
    human_tasks.c.id == sa.bindparam("c_task")).scalar_subquery()).with_for_update()
_INSTANCE_OF_TIMER = sa.select(instances).where(instances.c.id == sa.select(timers.c.instance_id).where(
    timers.c.id == sa.bindparam("c_timer")).scalar_subquery()).with_for_update()

# The instance of a task, locked, with what an access check needs of the task row (which is not locked:
# only the instance is, as on every other path).
_COMPLETE_WITH_TASK = (
    sa.select(instances, human_tasks.c.assignee.label("_task_assignee"),
              human_tasks.c.candidate_groups.label("_task_groups"))
    .select_from(instances.join(human_tasks, human_tasks.c.instance_id == instances.c.id))
    .where(human_tasks.c.id == sa.bindparam("c_task")).with_for_update(of=instances))


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


def _sources(files):
    return [f if isinstance(f, SourceFile) else SourceFile(f[0], f[1]) for f in files]


__all__ = ["Engine", "timedelta"]
