"""Changing an SOP while it runs: move running instances to another version of their process, in
batches, with a dry run first; and repair one stuck instance by hand.

- `plan`: per running instance, whether it can move and what would happen (where its tokens are, which
  of those elements changed, its open tasks, timers and message waits after the move). It moves a copy
  of each instance in memory exactly as the migration would, and saves nothing.
- `Migrations.start` records a batch (`migration_batches`) and `run` works through it: each instance in
  its own transaction (`InstanceStore.change`: locked, and tried again from a fresh load if someone
  changed it meanwhile), with its derived rows and an audit event naming the versions and the map.
  Instances that cannot move are left untouched and reported with the reason; instances already on the
  target version are left alone, so running a migration twice changes nothing the second time. Progress
  is written to the batch row as it goes, for anyone to poll.
- `repair`: skip a waiting task, or move a token from one element to another, with a reason, audited,
  as one transaction.
"""
import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.instances.steps import Step, require_active
from engine.instances.views import json_safe
from engine.status import FINAL
from engine.storage.database import reader
from engine.storage.schema import definitions, instances, migration_batches
from engine.workflow import migration as moving
from engine.workflow.snapshot import take
from engine.workflow.state import dump_state, load_state

_PROGRESS_EVERY = 20  # instances between two progress writes on the batch row


def _instances_to_move(conn, target, from_version):
    """(instance id, version) of the running instances of `target`'s process on another version."""
    query = (sa.select(instances.c.id, definitions.c.version)
             .select_from(instances.join(definitions, definitions.c.id == instances.c.definition_id))
             .where(instances.c.process_key == target.key, instances.c.status.notin_(sorted(FINAL)),
                    instances.c.definition_id != target.id)
             .order_by(instances.c.started_at, instances.c.id))
    if from_version is not None:
        query = query.where(definitions.c.version == from_version)
    return conn.execute(query).all()


def _iso(value):
    return value.isoformat() if value is not None else None


def _describe(loaded_row, before, after, outcome, version):
    tasks = []
    for task_id, task in before.human_tasks.items():
        moved = after.human_tasks.get(task_id)
        tasks.append({"id": task_id, "element_id": task["element_id"],
                      "to_element_id": moved["element_id"] if moved else None,
                      "result": "kept" if moved and moved["element_id"] == task["element_id"] and
                      moved["form"] == task["form"] else ("changed" if moved else "removed")})
    tasks += [{"id": task_id, "element_id": None, "to_element_id": task["element_id"], "result": "added"}
              for task_id, task in after.human_tasks.items() if task_id not in before.human_tasks]
    timers = []
    for timer_id, timer in before.timers.items():
        moved = after.timers.get(timer_id)
        timers.append({"element_id": timer["element_id"], "due_at": _iso(timer["due_at"]),
                       "to_due_at": _iso(moved["due_at"]) if moved else None,
                       "result": ("kept" if moved["due_at"] == timer["due_at"] else "recounted") if moved
                       else "removed"})
    timers += [{"element_id": t["element_id"], "due_at": None, "to_due_at": _iso(t["due_at"]), "result": "added"}
               for timer_id, t in after.timers.items() if timer_id not in before.timers]
    return {"instance_id": loaded_row.id, "business_key": loaded_row.business_key, "from_version": version,
            "status": loaded_row.status, "tokens": sorted(set(outcome.tokens)),
            "changed": sorted(set(outcome.changed)), "tasks": tasks, "timers": timers,
            "messages": sorted(set(after.messages.values()))}


class Migrations:
    def __init__(self, db, store, definitions_store):
        self.db = db
        self.store = store
        self.definitions = definitions_store

    def _target(self, key, to_version):
        with reader(self.db).connect() as conn:
            return self.definitions.get(conn, key, to_version)

    def _move(self, conn, loaded, target, mapping):
        """Move the loaded instance onto `target` in memory: (moved workflow, Outcome). Raises Unmovable."""
        spec, subprocess_specs = self.definitions.specs.get(conn, target)
        return moving.move_workflow(loaded.workflow, spec, subprocess_specs, self.store.script_engine, mapping)

    # ---- the dry run --------------------------------------------------------------------------------
    def plan(self, key, to_version, from_version=None, mapping=None) -> dict:
        """What migrating would do to every running instance of `key`; nothing is saved."""
        target = self._target(key, to_version)
        mapping = _checked_map(mapping)
        items = []
        with reader(self.db).connect() as conn:
            for instance_id, version in _instances_to_move(conn, target, from_version):
                row = self.store.row(conn, instance_id)
                loaded = self.store._load(conn, row)
                try:
                    moved, outcome = self._move(conn, loaded, target, mapping)
                except moving.Unmovable as err:
                    items.append({"instance_id": row.id, "business_key": row.business_key,
                                  "from_version": version, "status": row.status, "can_migrate": False,
                                  "reason": str(err)})
                    continue
                after = take(moved, row._mapping, clock.now())
                items.append({**_describe(row, loaded.before, after, outcome, version), "can_migrate": True,
                              "reason": None})
        return {"process_key": key, "to_version": target.version, "from_version": from_version,
                "mapping": mapping, "total": len(items), "can_migrate": sum(i["can_migrate"] for i in items),
                "instances": json_safe(items)}

    # ---- the batch ----------------------------------------------------------------------------------
    def start(self, key, to_version, from_version=None, mapping=None, actor=None, queued=True) -> dict:
        """Record a batch for the instances that are to move now. `queued`: a scheduler hands it to a
        worker (`claim_queued`), else the caller runs it at once (`run(batch id)`)."""
        target = self._target(key, to_version)
        mapping = _checked_map(mapping)
        with self.db.begin() as conn:
            total = len(_instances_to_move(conn, target, from_version))
            batch_id = conn.execute(migration_batches.insert().values(
                process_key=key, to_version=target.version, from_version=from_version, mapping=mapping,
                status="queued" if queued else "running", total=total, outcomes=[], started_by=actor, started_at=clock.now())
                .returning(migration_batches.c.id)).scalar_one()
        return self.batch(batch_id)

    def claim_queued(self) -> list[int]:
        """Take the queued batches (each by one scheduler: the rows are locked and skipped by others)."""
        with self.db.begin() as conn:
            ids = [r.id for r in conn.execute(
                sa.select(migration_batches.c.id).where(migration_batches.c.status == "queued")
                .order_by(migration_batches.c.id).with_for_update(skip_locked=True))]
            if ids:
                conn.execute(migration_batches.update().where(migration_batches.c.id.in_(ids))
                             .values(status="running"))
        return ids

    def batch(self, batch_id) -> dict:
        if not 0 < batch_id < 2**31:  # the column's range: anything else names no batch
            raise NotFound(f"no migration with id {batch_id}")
        with reader(self.db).connect() as conn:
            row = conn.execute(sa.select(migration_batches).where(migration_batches.c.id == batch_id)).first()
        if row is None:
            raise NotFound(f"no migration with id {batch_id}")
        return {k: clock.utc(v) for k, v in row._mapping.items()}

    def run(self, batch_id, progress=None) -> dict:
        """Move the batch's instances, one transaction each. `progress(done, total)` after each one."""
        batch = self.batch(batch_id)
        target = self._target(batch["process_key"], batch["to_version"])
        with reader(self.db).connect() as conn:
            todo = _instances_to_move(conn, target, batch["from_version"])
        outcomes, migrated, skipped = list(batch["outcomes"] or []), 0, 0
        for done, (instance_id, version) in enumerate(todo, start=1):
            try:
                step = self.store.change(
                    sa.select(instances).where(instances.c.id == instance_id), batch["started_by"] or "engine",
                    self._apply(target, batch["mapping"], version, batch_id), missing=lambda conn: None)
                result, reason = ("migrated", None) if step is not None else (
                    "unchanged", "already on the target version, or ended meanwhile")
            except (moving.Unmovable, Conflict) as err:
                result, reason = "skipped", str(err)
            except Exception as err:  # noqa: BLE001 - one instance's failure is its outcome, not the batch's
                result, reason = "skipped", f"{type(err).__name__}: {err}"
            migrated += result == "migrated"
            skipped += result == "skipped"
            outcomes.append({"instance_id": instance_id, "from_version": version, "result": result,
                             "reason": reason})
            if progress is not None:
                progress(done, len(todo))
            if done % _PROGRESS_EVERY == 0 or done == len(todo):
                self._record(batch_id, migrated, skipped, outcomes, final=False)
        self._record(batch_id, migrated, skipped, outcomes, final=True)
        return self.batch(batch_id)

    def _record(self, batch_id, migrated, skipped, outcomes, final):
        values = {"migrated": migrated, "skipped": skipped, "outcomes": json_safe(outcomes)}
        if final:
            values.update(status="done", finished_at=clock.now())
        with self.db.begin() as conn:
            conn.execute(migration_batches.update().where(migration_batches.c.id == batch_id).values(**values))

    def _apply(self, target, mapping, version, batch_id):
        def apply(conn, loaded):
            if loaded.row.definition_id == target.id or loaded.row.status in FINAL:
                return None  # moved by an earlier run, or ended meanwhile: nothing to move
            moved, outcome = self._move(conn, loaded, target, mapping)
            conn.execute(instances.update().where(instances.c.id == loaded.row.id).values(definition_id=target.id))
            loaded.workflow = moved
            return Step("migrated", detail={"from_version": version, "to_version": target.version,
                                            "mapping": mapping, "batch_id": batch_id,
                                            "tokens": sorted(set(outcome.tokens)),
                                            "changed": sorted(set(outcome.changed))},
                        rewrites_tasks=True)
        return apply

    # ---- repair -------------------------------------------------------------------------------------
    def repair(self, instance_id, action, element_id, to_element_id=None, reason=None, actor=None):
        """`skip` the task or event at `element_id`, or `move` its token to `to_element_id`."""
        if action not in ("skip", "move"):
            raise InvalidInput(f"unknown repair '{action}' (skip or move)", {"action": ["skip or move"]})
        if action == "move" and not to_element_id:
            raise InvalidInput("a move needs the element to move to", {"to_element_id": ["required for move"]})
        if not reason or not str(reason).strip():
            raise InvalidInput("say why (the reason goes to the audit trail)", {"reason": ["required"]})

        def apply(conn, loaded):
            require_active(loaded, allow_suspended=True)
            detail = {"reason": reason, "from": element_id}
            if action == "move":
                detail["to"] = to_element_id
            step = Step(f"repaired_{action}", element_id=element_id, detail=detail, rewrites_tasks=True,
                        clears_incident=True)
            workflow = loaded.workflow
            # What runs after the moved token may fail like any step: an incident. Unmovable (not waiting
            # there, no such element) is a Conflict and goes through as it is.
            step.incident = self.store._run(workflow, step, lambda: (
                moving.skip(workflow, element_id) if action == "skip"
                else moving.move_token(workflow, element_id, to_element_id)))
            spec, subprocess_specs = self.store._specs(conn, loaded.row.definition_id)
            loaded.workflow = load_state(dump_state(workflow), spec, subprocess_specs, self.store.script_engine)
            return step

        def missing(conn):
            raise NotFound(f"no process instance with id '{instance_id}'")
        return self.store.change(sa.select(instances).where(instances.c.id == instance_id), actor, apply,
                                 missing=missing)


def _checked_map(mapping):
    mapping = dict(mapping or {})
    for old, new in mapping.items():
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise InvalidInput("a map pairs element ids: {\"old_id\": \"new_id\"}", {"map": ["element ids"]})
    return mapping
