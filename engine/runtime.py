"""`Engine`: the one object the API, the workers and the CLI use, and the composition root.

It owns the database connection, the definition store, the instance store and the task claims, and
offers every operation as a method that runs in its own transaction. It is the only module that wires
the SOP code (`engine.sop.OPERATIONS`, handed to the parser and the script engine) and the customer
hub (the task-completed hook, handed to the instance store) into the generic runtime below them.
Methods that take a `user` apply the access rule (engine/access.py) as well: routes parse, call one of
them and answer.
"""
from contextlib import nullcontext
from datetime import timedelta
from functools import partial
from types import SimpleNamespace

import sqlalchemy as sa
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import access, clock
from engine.calendar import helpers as calendar_helpers, load_calendar
from engine.clock import utc
from engine.config import Settings, load_settings
from engine.context import notify, script_print
from engine.customers import importer
from engine.customers.customers import get_customer
from engine.customers.import_jobs import ImportJobs
from engine.customers.interactions import (business_keys_of, customer_id_of, follow_task_assignment,
                                           record_task_completion)
from engine.customers.records import close_ticket_of_cancelled, with_subjects
from engine.customers.tabular import estimate_rows
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.identity import IdentityStore, User
from engine.instances import queries, steps
from engine.instances.definitions import DefinitionStore
from engine.instances.migration import Migrations
from engine.instances.external_tasks import ExternalTasks, require_worker
from engine.instances.process_groups import ProcessGroups
from engine.instances.store import InstanceStore
from engine.instances.tasks import Tasks
from engine.sop import OPERATIONS
from engine.sop.watch import refresh_health
from engine.storage.backend import backend_for
from engine.storage.database import create_db_engine, migrate, reader
from engine.storage.schema import audit_events, human_tasks, instances, message_waits, timers
from engine.workflow.feel import FollowupDMNEngine
from engine.workflow.parsing import SourceFile, parse_files, start_form
from engine.workflow.sandbox import SandboxScriptEngine, zoned_time_helpers
from engine.workflow.state import variables_of
from engine.workflow.timer_values import make_timer_value


class Engine:
    def __init__(self, settings: Settings | None = None, db=None):
        self.settings = settings or load_settings()
        self.db = db if db is not None else create_db_engine(self.settings.database_url)
        self.backend = backend_for(self.db)
        self.calendar = load_calendar(self.settings.timezone)
        self.script_engine = SandboxScriptEngine({"timer_value": make_timer_value(
            self.settings.timezone, self.settings.limits.min_timer_cycle_seconds),
                                                  "notify": notify, "print": script_print,
                                                  **calendar_helpers(self.calendar),
                                                  **zoned_time_helpers(self.settings.timezone)},
                                                 operations=OPERATIONS, limits=self.settings.limits)
        self.definitions = DefinitionStore(self.db, OPERATIONS, self.settings.limits)
        self.instances = InstanceStore(self.db, self.definitions, self.script_engine,
                                       on_task_completed=[record_task_completion],
                                       on_cancelled=[_close_ticket_of_cancelled])
        self.tasks = Tasks(self.db, on_assigned=[follow_task_assignment])
        self.external_tasks = ExternalTasks(self.db, self.instances)
        self.on_interaction = [refresh_health]  # a check-in, call or visit recomputes the health score
        self.identity = IdentityStore(self.db)
        self.process_groups = ProcessGroups(self.definitions)
        self.migrations = Migrations(self.db, self.instances, self.definitions)
        self.imports = ImportJobs(self.db)
        # the variables roles outside access.SEES_AMOUNTS may not read: money, and the designer's names
        self.hidden_variables = access.MONEY_VARIABLES | self.settings.hidden_variables

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

    def definition_by_id(self, definition_id):
        with reader(self.db).connect() as conn:
            return self.definitions.by_id(conn, definition_id)

    def evaluate_decision(self, user: User | None, key, variables=None) -> list[dict]:
        """Evaluate the newest stored decision table `key` with `variables`: one row per matched rule
        ({output name: value}), or the aggregate row (Camunda's decision-definition evaluate)."""
        if user is not None:
            access.require(user, access.DEFINITION_VIEW)
        with reader(self.db).connect() as conn:
            source = self.definitions.newest_decision_file(conn, key)
        table = parse_files([source]).parser.get_engine(key, None).decision_table
        scope = SimpleNamespace(data=dict(variables or {}), workflow=SimpleNamespace(script_engine=self.script_engine))
        try:
            return FollowupDMNEngine(table).result_rows(scope)
        except SpiffWorkflowException as err:
            raise InvalidInput(f"decision '{key}' cannot be evaluated with these variables: {err}") from None

    def definition_xml(self, key, version=None) -> bytes:
        with reader(self.db).connect() as conn:
            return self.definitions.xml(conn, self.definitions.get(conn, key, version))

    def versions(self, key) -> list[dict]:
        """Every version of process `key`, newest first, with how many instances run on each."""
        with reader(self.db).connect() as conn:
            return self.definitions.versions(conn, key)

    def decision_xml(self, decision_id) -> bytes:
        with reader(self.db).connect() as conn:
            return self.definitions.decision_xml(conn, decision_id)

    def list_definitions(self, page=1, page_size=50):
        with reader(self.db).connect() as conn:
            return self.definitions.list_latest(conn, page, page_size)

    # ---- instances ---------------------------------------------------------------------------------
    def start(self, process_key, business_key=None, variables=None, actor=None, version=None) -> str:
        definition = self.definition(process_key, version)
        return self.instances.start(definition, business_key, variables, actor)

    def instance(self, instance_id) -> dict:
        with reader(self.db).connect() as conn:
            return self.instances.describe(conn, instance_id)

    def complete_task(self, task_id, variables=None, actor=None, check=None, check_values=None):
        """Complete an open task with form values. Returns the Step (with the instance's new status and
        open tasks). `check(task)`: called with the task (its row, as `task()` returns it) under the
        instance's lock, before anything else; raising refuses (the API's access check). `check_values(form)`:
        called next with the task's form fields (the field rules)."""
        apply = steps.complete_task(self.instances, task_id, variables, actor, check_values)
        missing = lambda conn: self.tasks.missing(conn, task_id)  # noqa: E731
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

    def _instance_change(self, instance_id, apply, actor=None, retry=True):
        def missing(conn):
            raise NotFound(f"no process instance with id '{instance_id}'")
        return self.instances.change(_INSTANCE_BY_ID, actor, apply, retry=retry, missing=missing, locked=True,
                                     params={"c_instance": instance_id})

    def cancel(self, instance_id, actor=None, reason=None):
        return self._instance_change(instance_id, steps.cancel(self.instances, reason, actor), actor)

    def suspend(self, instance_id, actor=None):
        return self._instance_change(instance_id, steps.suspend(self.instances), actor)

    def resume(self, instance_id, actor=None):
        return self._instance_change(instance_id, steps.resume(self.instances), actor)

    def set_variables(self, instance_id, modifications=None, deletions=(), actor=None):
        return self._instance_change(instance_id, steps.set_variables(self.instances, modifications, deletions),
                                     actor)

    def retry(self, instance_id, actor=None, variables=None):
        """Run the failed step again; `variables` correct the data it runs on first."""
        return self._instance_change(instance_id, steps.retry(self.instances, variables), actor)

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

    def correlate_message(self, name, business_key=None, variables=None, actor=None, correlation=None,
                          every=True, user: User | None = None) -> list[str]:
        """Deliver a message to the instance waiting for it: with that business key, if given, and whose
        variables have the `correlation` values, if given (a customer's two contracts each have their
        renewal reminders: "contract renewed" must end the one of the contract renewed). When several
        match and not `every`, nothing is delivered: 409 naming them. With `user`, only the instances in
        their reach (engine/access.py) count; the others read as not waiting."""
        query = sa.select(message_waits.c.instance_id).where(message_waits.c.message_name == name).distinct()
        if business_key is not None:
            query = query.where(message_waits.c.business_key == business_key)
        with reader(self.db).connect() as conn:
            if user is not None:
                processes = [] if user.role in access.SEES_ALL_INSTANCES else self.process_groups.processes_of(
                    conn, user.groups)
                query = query.join(instances, instances.c.id == message_waits.c.instance_id).where(
                    access.instance_reach_sql(user, processes))
            waiting = sorted(r.instance_id for r in conn.execute(query))
        if correlation:
            def matches(instance_id):
                have = self.instances_variables(instance_id)
                return all(key in have and str(have[key]) == str(value) for key, value in correlation.items())
            waiting = [i for i in waiting if matches(i)]
        if not waiting:
            which = f" with business key '{business_key}'" if business_key is not None else ""
            if correlation:
                which += " and " + ", ".join(f"{k} = {v}" for k, v in correlation.items())
            raise NotFound(f"no process instance{which} is waiting for the message '{name}'")
        if len(waiting) > 1 and not every:
            raise Conflict(f"the message '{name}' matches {len(waiting)} waiting process instances "
                           f"({', '.join(waiting)}), not one: "
                           "say which with `correlation` (variables it must have, e.g. {\"contract_id\": 2}), "
                           "or send it to all with `all: true`")
        delivered = []
        for instance_id in waiting:
            if self._instance_change(instance_id, steps.deliver_message(self.instances, name, variables, actor),
                                     actor) is not None:
                delivered.append(instance_id)
        if not delivered:
            raise Conflict(f"every process instance waiting for the message '{name}' is suspended; "
                           "resume one and send it again")
        return delivered

    # ---- changing an SOP while it runs (engine/instances/migration.py) ----------------------------
    def plan_migration(self, key, to_version, from_version=None, mapping=None) -> dict:
        """The dry run: what moving the running instances of `key` to `to_version` would do to each."""
        return self.migrations.plan(key, to_version, from_version, mapping)

    def start_migration(self, key, to_version, from_version=None, mapping=None, actor=None) -> dict:
        """Queue a migration batch: the scheduler hands it to a worker (or the in-process runner)."""
        return self.migrations.start(key, to_version, from_version, mapping, actor)

    def migration(self, batch_id) -> dict:
        return self.migrations.batch(batch_id)

    def repair(self, instance_id, action, element_id, to_element_id=None, reason=None, actor=None):
        """Skip the task at `element_id`, or move its token to `to_element_id`; audited with `reason`."""
        return self.migrations.repair(instance_id, action, element_id, to_element_id, reason, actor)
    # ---- customer imports (engine/customers/importer.py, import_jobs.py) ------------------------------
    def import_as(self, user: User, data: bytes, file_name=None, mapping=None, mode="create", key=None,
                  dry_run=False, background=None) -> tuple[dict, bool]:
        """Import a spreadsheet of customers as `user`, within their reach. A file of more than
        `limits.import_background_rows` rows (or `background=True`) is queued for a job: (the batch, True);
        else it is imported here and now: (the report, False)."""
        if background is None:
            background = estimate_rows(data) > self.settings.limits.import_background_rows
        if background:
            return self.imports.queue(data, file_name, mapping, mode, key, dry_run, user.name), True
        return importer.import_customers(self, data, mapping, mode, key, dry_run, user.name, file_name,
                                         **_import_reach(user)), False

    def run_import(self, batch_id, job_id, heartbeat=None) -> dict | None:
        """The job of a background import: the importer's reach is its user's as they are now."""
        def reach(actor):
            user = self.identity.user(actor) if actor else None
            if user is None or not user.active:
                raise Forbidden(f"the importing user '{actor}' is no longer active")
            return _import_reach(user)
        return self.imports.run(batch_id, job_id, reach, heartbeat)

    def instances_variables(self, instance_id) -> dict:
        with reader(self.db).connect() as conn:
            return variables_of(self.instances.workflow(conn, instance_id)[1])

    # ---- tasks ------------------------------------------------------------------------------------
    def task(self, task_id) -> dict:
        return self.tasks.get(task_id)

    def claim(self, task_id, user, actor=None):
        """Take an open task. Someone else holding it: Conflict."""
        return self.tasks.claim(task_id, user, actor)

    def claim_for(self, task_id, user: User) -> dict | None:
        """The agent loop's claim in one statement (see `Tasks.claim_in_one_statement`); None: go the long way."""
        return self.tasks.claim_in_one_statement(task_id, user)

    def unclaim(self, task_id, user, actor=None):
        return self.tasks.unclaim(task_id, user, actor)

    def assign(self, task_id, user, actor):
        """A supervisor's move: give the task to `user` whoever holds it now."""
        return self.tasks.assign(task_id, user, actor)

    def events(self, instance_id, page=1, page_size=50):
        with reader(self.db).connect() as conn:
            self.instances.row(conn, instance_id)
            base = sa.select(audit_events).where(audit_events.c.instance_id == instance_id)
            total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
            rows = conn.execute(base.order_by(audit_events.c.id).offset((page - 1) * page_size).limit(page_size))
            return [{"id": r.id, "at": utc(r.at), "actor": r.actor, "action": r.action, "task_id": r.task_id,
                     "element_id": r.element_id, "detail": r.detail} for r in rows], total

    # ---- as a user: the access rule applied (what the API and the pages call) ----------------------
    def task_for(self, user: User, action, task_id) -> dict:
        """The open task, if `user` reaches it and has the right for `action` (else NotFound/Forbidden;
        Conflict for a task completed already)."""
        with reader(self.db).connect() as conn:
            task = queries.open_task(conn, task_id)
        if task is None:
            task = self.tasks.get(task_id)  # raises: NotFound, or Conflict for a task completed already
        access.require_task(user, action, task, self.identity.groups_of)
        with reader(self.db).connect() as conn:
            return with_subjects(conn, [task])[0]

    def instance_for(self, user: User, action, instance_id) -> dict:
        """The instance as `instance()` describes it, if `user` reaches it and has the right for `action`."""
        instance = self.instance(instance_id)
        with reader(self.db).connect() as conn:
            groups = self.process_groups.of_process(conn, instance["process_key"])
        tasks_in_reach = any(access.task_in_reach(user, t, self.identity.groups_of) for t in instance["tasks"])
        access.require_instance(user, action, instance, groups, tasks_in_reach)
        return self.shown_instance(user, instance)

    # ---- field rules: what a user may read of an instance's values (access.hide_values) ---------------
    def hidden_for(self, user: User) -> frozenset:
        """The variable names hidden from `user` (none for roles that see amounts)."""
        return access.hidden_names(user, self.hidden_variables)

    def shown_instance(self, user: User, instance) -> dict:
        """An instance (its id, or as `instance()` describes it; reach checked by the caller) as `user` may
        read it: hidden variables null and named in `hidden_fields`, also inside the messages it sent."""
        if not isinstance(instance, dict):
            instance = self.instance(instance)
        hidden = self.hidden_for(user)
        if not hidden:
            return instance
        found = []
        variables = access.hide_values(instance["variables"], hidden, found)
        if not found:
            return instance
        return {**instance, "variables": variables, "messages": access.hide_values(instance["messages"], hidden),
                "hidden_fields": found}

    def variables_for(self, user: User, instance_id) -> dict:
        """An instance's variables as `user` may read them (reach checked by the caller)."""
        return access.hide_values(self.instances_variables(instance_id), self.hidden_for(user))

    def events_for(self, user: User, instance_id, page=1, page_size=50):
        """The audit trail of an instance in `user`'s reach, hidden values null in each detail."""
        self.instance_for(user, access.INSTANCE_VIEW, instance_id)
        items, total = self.events(instance_id, page, page_size)
        hidden = self.hidden_for(user)
        return ([{**e, "detail": access.hide_values(e["detail"], hidden)} for e in items] if hidden else items), total

    def task_detail_for(self, user: User, task_id) -> dict:
        """An open task in `user`'s reach with the context of its instance, as `user` may read it."""
        try:
            task = self.task_for(user, access.TASK_VIEW, task_id)
        except Conflict:  # completed: no longer an open task
            raise NotFound(f"no open task with id '{task_id}'") from None
        task["instance"] = self.shown_instance(user, task["instance_id"])
        return task

    def require_writable(self, user: User, names, form_fields=()) -> None:
        """`user` may not set a variable hidden from them unless the form asks them for it: 422 naming it."""
        problem = access.hidden_write_problem(user, names, self.hidden_for(user), form_fields)
        if problem:
            hidden = self.hidden_for(user)
            raise InvalidInput(problem, {name: ["hidden from your role: you may not set it"] for name in sorted(names)
                                         if name in hidden and name not in {f["id"] for f in form_fields}})

    def start_as(self, user: User, process_key, business_key=None, variables=None, version=None) -> dict:
        """Start the latest version of `process_key` (or that `version`) if `user` may (agents and
        supervisors: the processes of their groups). Returns the new instance as `instance()` describes it."""
        self.definition(process_key, version)  # 404 before the rights question: definitions are public
        with reader(self.db).connect() as conn:
            groups = self.process_groups.of_process(conn, process_key)
        access.require_start(user, process_key, groups)
        self._require_customer_of(user, business_key)
        return self.shown_instance(user, self.start(process_key, business_key, variables, actor=user.name,
                                                    version=version))

    def _require_customer_of(self, user: User, business_key):
        """A business key naming a customer ('14', 'customer:14') is the customer the SOP's operations act
        on: it must be in `user`'s reach (engine/access.py), else it reads as missing (404)."""
        customer_id = customer_id_of(business_key)
        if customer_id is None:
            return
        try:
            customer = get_customer(self, customer_id)
        except NotFound:
            return  # no such customer: nothing to reach (the SOP's operations say so, as an incident)
        if not access.record_in_reach(user, customer):
            raise NotFound(f"no customer with id {customer_id}")

    def has_task_about(self, user: User, kind, record_id) -> bool:
        """Whether `user` holds or is offered an open task whose business key names this customer or lead
        (access.record_readable): one indexed query, asked only for a record out of their reach."""
        keys = business_keys_of(kind, record_id)
        if not keys:
            return False
        with reader(self.db).connect() as conn:
            return bool(conn.execute(sa.select(access.task_about_sql(user, keys))).scalar())

    def list_tasks(self, user: User, page=1, page_size=50, **filters):
        """(tasks, total) of the tasks `user` reaches (see `queries.list_tasks` for the filters)."""
        with reader(self.db).connect() as conn:
            planned = backend_for(conn).planned_once if queries.plans_weigh(user, **filters) else nullcontext
            with planned(conn):
                items, total = queries.list_tasks(conn, user, page=page, page_size=page_size, **filters)
            return with_subjects(conn, items), total

    def list_instances(self, user: User, page=1, page_size=50, **filters):
        """(instances, total) of the instances `user` reaches, newest first."""
        with reader(self.db).connect() as conn:
            processes = [] if user.role in access.SEES_ALL_INSTANCES else self.process_groups.processes_of(
                conn, user.groups)
            return queries.list_instances(conn, user, processes, page=page, page_size=page_size, **filters)

    def correlate_message_as(self, user: User, name, business_key=None, variables=None, correlation=None,
                             every=True) -> list[str]:
        """`user` sends a message: it reaches the waiting instances in their reach only (supervisors, admins)."""
        access.require(user, access.MESSAGE_SEND)
        return self.correlate_message(name, business_key, variables, actor=user.name, correlation=correlation,
                                      every=every, user=user)

    def assign_as(self, user: User, task_id, target) -> dict:
        """A supervisor gives the task to `target` (None releases it): an active user of one of the
        task's groups or of the supervisor's own (access.may_assign_to); else 422."""
        task = self.task_for(user, access.TASK_ASSIGN, task_id)
        if target is not None:
            try:
                target_user = self.identity.user(target)
            except NotFound:
                target_user = None
            if target_user is None or not target_user.active:
                raise InvalidInput(f"there is no active user named '{target}'",
                                   {"user": [f"no active user named '{target}'"]})
            if not access.may_assign_to(user, task, target, frozenset(target_user.groups)):
                groups = ", ".join(sorted(set(task["candidate_groups"]) | set(user.groups)))
                raise InvalidInput(f"{target} is in none of the task's groups nor of yours ({groups}): give it to "
                                   "someone who is", {"user": [f"not in {groups}"]})
        return self.tasks.assign(task_id, target, actor=user.name)

    def claim_as(self, user: User, task_id) -> dict:
        """`user` takes the task: the common case in one statement where the backend can; any refusal
        goes the long way, which tells which error it is (404, 403, 409)."""
        if access.allowed(user, access.TASK_CLAIM):
            task = self.claim_for(task_id, user)
            if task is not None:
                return task
        self.task_for(user, access.TASK_CLAIM, task_id)
        return self.tasks.claim(task_id, user.name)

    def unclaim_as(self, user: User, task_id) -> dict:
        """Give the task back; a supervisor may also release a task someone else holds."""
        task = self.task_for(user, access.TASK_UNCLAIM, task_id)
        if task["assignee"] not in (None, user.name) and access.allowed(user, access.TASK_ASSIGN):
            return self.tasks.assign(task_id, None, actor=user.name)
        return self.tasks.unclaim(task_id, user.name)

    def complete_as(self, user: User, task_id, variables=None) -> dict:
        """`user` completes the task with form values. Answers the task, its instance's new status and
        the next tasks of that instance in `user`'s reach. A variable hidden from `user`'s role may be set
        only through a field of the task's form (access.hidden_write_problem): else 422 naming it."""
        hidden = self.hidden_for(user)
        check_values = None  # called under the lock, after the reach check: 404 before 422, no extra read
        if hidden and variables and not hidden.isdisjoint(variables):  # a set check on the hot path
            check_values = partial(self.require_writable, user, variables)
        if self.backend.checks_under_lock:
            def check(task):  # under the instance's lock, instead of a read of the task before
                access.require_task(user, access.TASK_COMPLETE, task, self.identity.groups_of)
            step = self.complete_task(task_id, variables, actor=user.name, check=check, check_values=check_values)
        else:  # SQLite: a second connection (a supervisor's check reads groups) would wait for this writer
            self.task_for(user, access.TASK_COMPLETE, task_id)
            step = self.complete_task(task_id, variables, actor=user.name, check_values=check_values)
        if not step.open_tasks:  # nothing left to do in this instance: the answer is what was just saved
            status, next_tasks = step.status, []
        else:
            with reader(self.db).connect() as conn:
                status, next_tasks = queries.after_completion(conn, user, step.instance_id)
        return {"task_id": task_id, "instance_id": step.instance_id, "instance_status": status,
                "next_tasks": next_tasks}

    # ---- external tasks (engine/instances/external_tasks.py): a worker's calls, as `user` -----------
    def fetch_and_lock(self, user: User | None, worker_id, max_tasks, topics, use_priority=True) -> list[dict]:
        require_worker(user)
        return self.external_tasks.fetch_and_lock(worker_id, max_tasks, topics, use_priority)

    def external_task(self, user: User | None, task_id) -> dict:
        require_worker(user)
        return self.external_tasks.get(task_id)

    def list_external_tasks(self, user: User | None, **filters) -> list[dict]:
        require_worker(user)
        return self.external_tasks.find(**filters)

    def complete_external_task(self, user: User | None, task_id, worker_id, variables=None, local_variables=None):
        require_worker(user)
        return self.external_tasks.complete(task_id, worker_id, variables, actor=user.name if user else worker_id,
                                            local_variables=local_variables)

    def fail_external_task(self, user: User | None, task_id, worker_id, error_message=None, error_details=None,
                           retries=None, retry_timeout=0):
        require_worker(user)
        return self.external_tasks.failure(task_id, worker_id, error_message, error_details, retries, retry_timeout,
                                           actor=user.name if user else worker_id)

    def bpmn_error_external_task(self, user: User | None, task_id, worker_id, error_code, error_message=None,
                                 variables=None):
        require_worker(user)
        return self.external_tasks.bpmn_error(task_id, worker_id, error_code, error_message, variables,
                                              actor=user.name if user else worker_id)

    def extend_external_lock(self, user: User | None, task_id, worker_id, new_duration):
        require_worker(user)
        return self.external_tasks.extend_lock(task_id, worker_id, new_duration)

    def set_external_retries(self, user: User | None, task_id, retries):
        require_worker(user)
        return self.external_tasks.set_retries(task_id, retries, actor=user.name if user else None)

    def unlock_external_task(self, user: User | None, task_id):
        require_worker(user)
        return self.external_tasks.unlock(task_id)

    # ---- definitions, described ---------------------------------------------------------------------
    def describe_definition(self, definition) -> dict:
        """A definition as the API shows it: its fields and the groups its user tasks name."""
        data = vars(definition).copy()
        data["deployment_id"] = definition.deployment_id
        with reader(self.db).connect() as conn:
            data["groups"] = sorted(self.process_groups.of_definition(conn, definition.id))
            data["start_form"] = start_form(self.definitions.specs.get(conn, definition)[0])
        return data

    # ---- the service itself -------------------------------------------------------------------------
    def stats(self) -> dict:
        """Instances by status, ready and overdue tasks, pending timers and the timer lag (for /metrics)."""
        with reader(self.db).connect() as conn:
            return queries.stats(conn)

    def check_database(self) -> dict:
        """Is the database reachable: {"ok": bool, "detail": the backend's name or why not}."""
        try:
            with self.db.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return {"ok": True, "detail": self.backend.name}
        except Exception as err:  # noqa: BLE001 - any failure means "not reachable"
            return {"ok": False, "detail": f"not reachable: {type(err).__name__}"}


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


def _import_reach(user: User) -> dict:
    """The importer's reach when `user` imports (engine/access.py), as `importer.import_customers` takes
    it: whom rows may update and name, hand records to, and which team a row without one lands in."""
    return {"in_reach": lambda record: access.record_in_reach(user, record),
            "holder_problem": lambda owner, team, groups: access.holder_problem(user, owner, team, groups),
            "landing": lambda owner, groups: access.landing_team(user, owner, groups),
            "landing_problem": lambda choices: access.landing_problem(user, choices)}


def _close_ticket_of_cancelled(conn, business_key, variables, actor, at):
    """A cancelled complaint or service ticket SOP closes the ticket it opened (and the customer's health
    no longer counts it)."""
    customer_id = close_ticket_of_cancelled(conn, variables, actor, at)
    if customer_id is not None:
        refresh_health(conn, customer_id, at)


def _sources(files):
    return [f if isinstance(f, SourceFile) else SourceFile(f[0], f[1]) for f in files]


__all__ = ["Engine", "timedelta"]
