"""External tasks: service tasks done by workers outside the engine (Camunda 7's external task pattern).

A service task whose topic (or spiff operator) is not a built-in operation leaves its instance waiting
(workflow/service_tasks.py); the `external_tasks` row is derived from the state and written in the same
transaction (store._sync_rows). Workers then:

- `fetch_and_lock`: take up to N open tasks of some topics for a lock duration. Each task goes to exactly
  one worker: the lock is a conditional UPDATE (unlocked or lock expired), on PostgreSQL over rows
  selected FOR UPDATE SKIP LOCKED, on SQLite inside the one writer's transaction.
- `complete`, `bpmn_error`: change the instance, one transaction via `InstanceStore.change`; only the
  worker holding an unexpired lock may (its row is deleted under that condition, so a worker whose lock
  expired and was taken by another loses: `LockLost`).
- `failure`: retries left: the lock is dropped until `retry_timeout` has passed (a row change, no state
  change); no retries left: an incident naming the element (an instance change: the task goes to ERROR,
  `Engine.retry` runs it again as a fresh external task).
- `extend_lock` (the holder only) and `unlock` (anyone): row changes.
"""
import uuid
from datetime import timedelta

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.clock import utc
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.instances.steps import Loaded, Step, require_active, _run_recording
from engine.status import InstanceStatus
from engine.storage.backend import backend_for
from engine.storage.database import reader
from engine.storage.schema import audit_events, external_tasks, instances
from engine.workflow.service_tasks import complete_external

_MISSING = object()

# Who may work external tasks: the accounts workers run under (a worker is a service, not an agent).
WORKER_ROLES = frozenset({"admin", "designer", "supervisor"})


class LockLost(Conflict):
    """The worker does not hold (or no longer holds) the task's lock."""


def require_worker(user):
    if user is not None and user.role not in WORKER_ROLES:
        raise Forbidden(f"a {user.role} may not work external tasks (roles that may: {', '.join(sorted(WORKER_ROLES))})")


def task_view(row) -> dict:
    return {
        "id": row.id, "instance_id": row.instance_id, "definition_id": row.definition_id,
        "process_key": row.process_key, "business_key": row.business_key, "element_id": row.element_id,
        "topic": row.topic, "priority": row.priority, "worker_id": row.worker_id,
        "lock_expires_at": utc(row.lock_expires_at), "retries": row.retries,
        "error_message": row.error_message, "error_details": row.error_details,
        "created_at": utc(row.created_at), "variables": row.variables, "properties": row.properties or {},
    }


def _positive_ms(value, name):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{name} must be a positive number of milliseconds", {name: ["must be > 0"]})
    return timedelta(milliseconds=value)


_UNLOCKED = lambda now: sa.or_(external_tasks.c.lock_expires_at.is_(None),  # noqa: E731
                               external_tasks.c.lock_expires_at <= now)


class ExternalTasks:
    def __init__(self, db, store):
        self.db = db
        self.store = store
        self.backend = backend_for(db)

    # ---- reading ----------------------------------------------------------------------------------
    def get(self, task_id) -> dict:
        with reader(self.db).connect() as conn:
            row = conn.execute(sa.select(external_tasks).where(external_tasks.c.id == task_id)).first()
        if row is None:
            raise NotFound(f"External task with id {task_id} does not exist")
        return task_view(row)

    def find(self, topic=None, instance_id=None, locked=None, limit=100) -> list[dict]:
        query = sa.select(external_tasks).order_by(external_tasks.c.priority.desc(), external_tasks.c.created_at)
        if topic is not None:
            query = query.where(external_tasks.c.topic == topic)
        if instance_id is not None:
            query = query.where(external_tasks.c.instance_id == instance_id)
        if locked is not None:
            now = clock.now()
            query = query.where(sa.not_(_UNLOCKED(now)) if locked else _UNLOCKED(now))
        with reader(self.db).connect() as conn:
            return [task_view(r) for r in conn.execute(query.limit(limit))]

    # ---- locking ----------------------------------------------------------------------------------
    def fetch_and_lock(self, worker_id, max_tasks, topics, use_priority=True) -> list[dict]:
        """`topics`: dicts with `topic`, `lock_duration` (ms) and optionally `business_key`,
        `process_key`, `process_keys`, `variables` (names to hand over; None: all). Returns the tasks
        now locked by `worker_id`, each with its `variables`."""
        if not worker_id:
            raise InvalidInput("workerId is required", {"workerId": ["required"]})
        if not isinstance(max_tasks, int) or max_tasks < 0:
            raise InvalidInput("maxTasks must be a number >= 0", {"maxTasks": ["must be >= 0"]})
        for topic in topics:
            if not topic.get("topic"):
                raise InvalidInput("each topic needs a topicName", {"topicName": ["required"]})
            _positive_ms(topic.get("lock_duration"), "lockDuration")
        locked = []
        if max_tasks == 0 or not topics:
            return locked
        now = clock.now()
        with reader(self.db).connect() as conn:  # nothing to take: no write transaction (a long poll asks often)
            waiting = conn.execute(sa.select(external_tasks.c.id).where(
                external_tasks.c.topic.in_([t["topic"] for t in topics]), _UNLOCKED(now)).limit(1)).first()
        if waiting is None:
            return locked
        with self.db.begin() as conn:
            for topic in topics:
                wanted = max_tasks - len(locked)
                if wanted <= 0:
                    break
                query = (sa.select(external_tasks.c.id)
                         .join(instances, instances.c.id == external_tasks.c.instance_id)
                         .where(external_tasks.c.topic == topic["topic"], _UNLOCKED(now),
                                sa.or_(external_tasks.c.retries.is_(None), external_tasks.c.retries > 0),
                                instances.c.status.notin_([InstanceStatus.SUSPENDED, InstanceStatus.ERROR])))
                if topic.get("business_key") is not None:
                    query = query.where(external_tasks.c.business_key == topic["business_key"])
                keys = list(topic.get("process_keys") or []) + ([topic["process_key"]] if topic.get("process_key") else [])
                if keys:
                    query = query.where(external_tasks.c.process_key.in_(keys))
                order = [external_tasks.c.priority.desc()] if use_priority else []
                filters = topic.get("process_variables") or {}
                query = query.order_by(*order, external_tasks.c.created_at, external_tasks.c.id)
                if filters:  # matched here: JSON paths differ per backend, and these lists are short
                    query = query.add_columns(external_tasks.c.variables).limit(500)
                else:
                    query = query.limit(wanted)
                if self.backend.postgresql:
                    query = query.with_for_update(of=external_tasks, skip_locked=True)
                found = conn.execute(query).all()
                if filters:
                    found = [r for r in found if all((r.variables or {}).get(k, _MISSING) == v
                                                     for k, v in filters.items())][:wanted]
                ids = [r.id for r in found]
                if not ids:
                    continue
                until = now + timedelta(milliseconds=topic["lock_duration"])
                rows = conn.execute(
                    external_tasks.update().where(external_tasks.c.id.in_(ids), _UNLOCKED(now))
                    .values(worker_id=worker_id, lock_expires_at=until).returning(*external_tasks.c)).all()
                names = topic.get("variables")
                for row in sorted(rows, key=lambda r: ids.index(r.id)):
                    task = task_view(row)
                    if names is not None:
                        task["variables"] = {k: v for k, v in (row.variables or {}).items() if k in set(names)}
                    locked.append(task)
        return locked

    def _held(self, conn, task_id, worker_id, now, action):
        row = conn.execute(sa.select(external_tasks).where(external_tasks.c.id == task_id)).first()
        if row is None:
            raise NotFound(f"External task with id {task_id} does not exist")
        if row.worker_id != worker_id or row.lock_expires_at is None or utc(row.lock_expires_at) <= now:
            holder = (f"It is locked by worker '{row.worker_id}' until {utc(row.lock_expires_at).isoformat()}"
                      if row.worker_id and row.lock_expires_at and utc(row.lock_expires_at) > now
                      else "It is not locked (its lock expired or was released)")
            raise LockLost(f"External Task {task_id} cannot be {action} by worker '{worker_id}'. {holder}.")
        return row

    def extend_lock(self, task_id, worker_id, new_duration):
        until = clock.now() + _positive_ms(new_duration, "newDuration")
        with self.db.begin() as conn:
            now = clock.now()
            done = conn.execute(external_tasks.update().where(
                external_tasks.c.id == task_id, external_tasks.c.worker_id == worker_id,
                external_tasks.c.lock_expires_at > now).values(lock_expires_at=until))
            if done.rowcount != 1:
                self._held(conn, task_id, worker_id, now, "extended")  # raises the reason

    def unlock(self, task_id):
        with self.db.begin() as conn:
            done = conn.execute(external_tasks.update().where(external_tasks.c.id == task_id)
                                .values(worker_id=None, lock_expires_at=None))
            if done.rowcount != 1:
                raise NotFound(f"External task with id {task_id} does not exist")

    def set_retries(self, task_id, retries, actor=None):
        """Set the retries of an open task; for a task whose failures ran out (an incident), retries > 0
        resolve the incident: the task runs again as an external task with that many retries."""
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise InvalidInput("retries must be a number >= 0", {"retries": ["must be >= 0"]})
        with self.db.begin() as conn:
            done = conn.execute(external_tasks.update().where(external_tasks.c.id == task_id).values(retries=retries))
            if done.rowcount == 1:
                return None
            failed = conn.execute(sa.select(audit_events.c.instance_id).where(
                audit_events.c.task_id == task_id, audit_events.c.action.in_(
                    ["external_task_failed", "external_task_bpmn_error"])).order_by(audit_events.c.id.desc())).first()
        if failed is None:
            raise NotFound(f"External task with id {task_id} does not exist")
        if retries == 0:
            return None  # it has none left already

        def apply(conn, loaded: Loaded):
            incident = loaded.row.incident or {}
            if loaded.row.status != InstanceStatus.ERROR or incident.get("task_id") != task_id:
                raise NotFound(f"External task with id {task_id} does not exist")
            task = loaded.workflow.get_task_from_id(uuid.UUID(task_id))
            step = Step("external_task_retries_set", task_id, task.task_spec.bpmn_id, detail={"retries": retries},
                        clears_incident=True)

            def rerun():
                task.internal_data["external_retries"] = retries
                task._set_state(TaskState.READY)
            return _run_recording(self.store, loaded, step, rerun)
        def missing(conn):
            raise NotFound(f"External task with id {task_id} does not exist")
        return self.store.change(sa.select(instances).where(instances.c.id == failed.instance_id), actor, apply,
                                 missing=missing)

    # ---- changing the instance -------------------------------------------------------------------
    def _change(self, task_id, apply, actor):
        def missing(conn):
            raise NotFound(f"External task with id {task_id} does not exist")
        return self.store.change(_INSTANCE_OF_EXTERNAL_TASK, actor, apply, missing=missing, locked=True,
                                 params={"c_external": task_id})

    def _take(self, conn, loaded: Loaded, task_id, worker_id, action):
        """The task, if `worker_id` holds its lock: its row is deleted on that condition, so a lock taken
        over by another worker a moment earlier wins."""
        require_active(loaded)
        if task_id not in loaded.before.external_tasks:
            raise NotFound(f"External task with id {task_id} does not exist")
        now = clock.now()
        done = conn.execute(external_tasks.delete().where(
            external_tasks.c.id == task_id, external_tasks.c.worker_id == worker_id,
            external_tasks.c.lock_expires_at > now))
        if done.rowcount != 1:
            self._held(conn, task_id, worker_id, now, action)
            raise LockLost(f"External Task {task_id} cannot be {action} by worker '{worker_id}'.")
        return loaded.workflow.get_task_from_id(uuid.UUID(task_id))

    def complete(self, task_id, worker_id, variables=None, actor=None, local_variables=None) -> Step:
        def apply(conn, loaded: Loaded):
            task = self._take(conn, loaded, task_id, worker_id, "completed")
            step = Step("external_task_completed", task_id, task.task_spec.bpmn_id, detail={"worker": worker_id})
            return _run_recording(self.store, loaded, step,
                                  lambda: complete_external(task, variables, local_variables))
        return self._change(task_id, apply, actor)

    def bpmn_error(self, task_id, worker_id, error_code, error_message=None, variables=None, actor=None) -> Step:
        """Throw a BPMN error from the task: an error boundary event with that code (or none) catches it;
        caught by nothing, it becomes an incident naming the element and the code."""
        if not error_code:
            raise InvalidInput("errorCode is required", {"errorCode": ["required"]})

        def apply(conn, loaded: Loaded):
            task = self._take(conn, loaded, task_id, worker_id, "reported as a BPMN error")
            element = task.task_spec.bpmn_id
            step = Step("external_task_bpmn_error", task_id, element,
                        detail={"worker": worker_id, "error_code": error_code, "message": error_message})
            catchers = [t for t in loaded.workflow.event_manager.tasks.values()
                        if t.state == TaskState.WAITING
                        and isinstance(t.task_spec.event_definition, ErrorEventDefinition)
                        and t.task_spec.event_definition.code in (None, error_code)]
            if not catchers:
                task._set_state(TaskState.ERROR)
                step.incident = _incident(task, f"BPMN error '{error_code}' thrown by the external task "
                                                f"'{element}' was caught by no error event"
                                                + (f": {error_message}" if error_message else ""))
                return step
            definition = type(catchers[0].task_spec.event_definition)(error_code, code=error_code)

            def throw():
                for catcher in catchers:  # the variables sent with the error reach the path it takes
                    catcher.data.update(variables or {})
                task.workflow.top_workflow.catch(BpmnEvent(definition, payload=dict(variables or {}),
                                                           target=task.workflow))
            return _run_recording(self.store, loaded, step, throw)
        return self._change(task_id, apply, actor)

    def failure(self, task_id, worker_id, error_message=None, error_details=None, retries=None,
                retry_timeout=0, actor=None):
        """Report a failure. `retries` > 0: fetchable again after `retry_timeout` ms; 0 (or None with no
        retries set before): an incident. Returns the Step for an incident, else None."""
        if retries is not None and (not isinstance(retries, int) or retries < 0):
            raise InvalidInput("retries must be a number >= 0", {"retries": ["must be >= 0"]})
        if retry_timeout is not None and (not isinstance(retry_timeout, (int, float)) or retry_timeout < 0):
            raise InvalidInput("retryTimeout must be a number of milliseconds >= 0", {"retryTimeout": [">= 0"]})
        if retries:
            with self.db.begin() as conn:
                now = clock.now()
                done = conn.execute(external_tasks.update().where(
                    external_tasks.c.id == task_id, external_tasks.c.worker_id == worker_id,
                    external_tasks.c.lock_expires_at > now).values(
                    retries=retries, error_message=error_message, error_details=error_details, worker_id=None,
                    lock_expires_at=now + timedelta(milliseconds=retry_timeout or 0)))
                if done.rowcount != 1:
                    self._held(conn, task_id, worker_id, now, "failed")
            return None

        def apply(conn, loaded: Loaded):
            task = self._take(conn, loaded, task_id, worker_id, "failed")
            element = task.task_spec.bpmn_id
            step = Step("external_task_failed", task_id, element,
                        detail={"worker": worker_id, "message": error_message, "retries": 0})
            task._set_state(TaskState.ERROR)
            step.incident = _incident(task, f"the external task '{element}' failed with no retries left"
                                            + (f": {error_message}" if error_message else ""), error_details)
            return step
        return self._change(task_id, apply, actor)

    def last_error(self, task_id):
        """The error details a worker reported for a task (None if none)."""
        with reader(self.db).connect() as conn:
            found = conn.execute(sa.select(external_tasks.c.error_details).where(external_tasks.c.id == task_id)).first()
            if found is not None:
                return found.error_details
            row = conn.execute(sa.select(audit_events.c.detail).where(
                audit_events.c.task_id == task_id, audit_events.c.action == "external_task_failed")
                .order_by(audit_events.c.id.desc())).first()
            return (row.detail or {}).get("details") if row else None


def _incident(task, message, details=None):
    return {"task_id": str(task.id), "element_id": task.task_spec.bpmn_id, "message": message,
            "traceback": (details or "")[-2000:], "at": clock.now().isoformat()}


_INSTANCE_OF_EXTERNAL_TASK = sa.select(instances).where(instances.c.id == sa.select(
    external_tasks.c.instance_id).where(external_tasks.c.id == sa.bindparam("c_external")).scalar_subquery()
).with_for_update()
