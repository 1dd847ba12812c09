"""Timer start events: one new instance per tick.

SpiffWorkflow runs a timer start event *inside* an instance (a cycle would add tokens to that one
instance). Followup instead keeps a launcher row per timer start event of the newest version of each
process (`timer_launchers`, kept in step with deployments by `sync`). `launch_due` starts one instance
per due tick, with the start event marked as fired so the new instance begins right after it, then
advances the launcher to its next tick (a cycle `R3/PT1H`: three ticks an hour apart; `R/P1D`: daily
for ever; a date or duration: once).

Exactly once per tick: the instance id is derived from (launcher, tick), so a second scheduler or a
retry after a crash between starting and advancing collides on the primary key instead of starting a
twin. A scheduler that was down for a while launches one catch-up instance, not one per missed tick.
Starting such a process by hand (API or CLI) gives an instance that waits for its own start timer.
"""
import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition, DurationTimerEventDefinition,
                                                              TimerEventDefinition)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.workflow import cron
from engine.instances.definitions import Definition
from engine.clock import utc
from engine.storage.schema import definitions, timer_launchers
from engine.workflow.state import all_tasks

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("6f1c1e53-5b0e-4f57-9a8f-0d7f3c1a2b44")


def timer_start_events(spec):
    return [ts for ts in spec.task_specs.values()
            if isinstance(ts, StartEvent) and isinstance(ts.event_definition, TimerEventDefinition)]


def schedule(engine, event_definition, now):
    """(first tick, ticks, interval seconds) of a timer start event, its expression evaluated now."""
    value = engine.script_engine.environment.evaluate(event_definition.expression, {})
    if isinstance(value, str) and value.startswith(cron.PREFIX):  # a cron cycle: no end, no fixed interval
        return cron.next_fire(value, now), -1, 0.0
    if isinstance(event_definition, CycleTimerEventDefinition):
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
        return start, cycles, duration.total_seconds()
    if isinstance(event_definition, DurationTimerEventDefinition):
        parsed = TimerEventDefinition.parse_iso_duration(value)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now), 1, 0.0
    return TimerEventDefinition.get_datetime(value), 1, 0.0


class Launchers:
    def __init__(self, engine):
        self.engine = engine
        self._synced_upto = None

    def sync(self, force=False) -> int:
        """Make the launcher rows match the newest version of every process; cheap when nothing was
        deployed since the last call. Returns how many launchers exist."""
        db = self.engine.db
        with db.connect() as conn:
            newest_id = conn.execute(sa.select(sa.func.max(definitions.c.id))).scalar()
            if newest_id == self._synced_upto and not force:
                return -1
            newest = sa.select(sa.func.max(definitions.c.id)).group_by(definitions.c.key)
            rows = conn.execute(sa.select(definitions).where(definitions.c.id.in_(newest))).all()
            wanted = {}
            for row in rows:
                definition = Definition.from_row(row)
                spec, _ = self.engine.definitions.specs.get(conn, definition)
                for start in timer_start_events(spec):
                    wanted[f"{definition.key}:{start.bpmn_id}"] = (definition, start)
            existing = {r.id: r for r in conn.execute(sa.select(timer_launchers))}
        now = clock.now()
        for launcher_id, (definition, start) in wanted.items():
            old = existing.get(launcher_id)
            expression = start.event_definition.expression
            try:
                with db.begin() as conn:
                    if old is None or old.expression != expression:
                        first, ticks, interval = schedule(self.engine, start.event_definition, now)
                        values = {"definition_id": definition.id, "expression": expression, "next_due_at": first,
                                  "remaining": ticks, "interval_seconds": interval}
                        if old is None:
                            conn.execute(timer_launchers.insert().values(
                                id=launcher_id, process_key=definition.key, element_id=start.bpmn_id, **values))
                        else:
                            conn.execute(timer_launchers.update().where(timer_launchers.c.id == launcher_id)
                                         .values(**values))
                    elif old.definition_id != definition.id:
                        conn.execute(timer_launchers.update().where(timer_launchers.c.id == launcher_id)
                                     .values(definition_id=definition.id))
            except sa.exc.IntegrityError:
                pass  # another scheduler made it at the same moment
        gone = set(existing) - set(wanted)
        if gone:
            with db.begin() as conn:
                conn.execute(timer_launchers.delete().where(timer_launchers.c.id.in_(gone)))
        self._synced_upto = newest_id
        return len(wanted)

    def launch_due(self, now=None, limit=100) -> list[str]:
        """Start one instance for every due tick; returns the ids of the instances started."""
        now = now or clock.now()
        db = self.engine.db
        with db.connect() as conn:
            due = conn.execute(sa.select(timer_launchers).where(timer_launchers.c.next_due_at <= now)
                               .order_by(timer_launchers.c.next_due_at).limit(limit)).all()
        started = []
        for launcher in due:
            instance_id = self._launch(launcher)
            if instance_id is not None:
                started.append(instance_id)
            self._advance(launcher, now, instance_id)
        return started

    def _launch(self, launcher):
        tick = utc(launcher.next_due_at)
        instance_id = str(uuid.uuid5(_NAMESPACE, f"{launcher.id}@{tick.isoformat()}"))
        with self.engine.db.connect() as conn:
            definition = self.engine.definitions.by_id(conn, launcher.definition_id)
        try:
            return self.engine.instances.start(definition, actor="timer", instance_id=instance_id,
                                               prepare=_fired_start(launcher.element_id))
        except sa.exc.IntegrityError:
            return None  # this tick was launched already
        except Exception as err:  # noqa: BLE001 - keep other launchers going; the error is on the row
            log.exception("launcher %s could not start an instance", launcher.id)
            with self.engine.db.begin() as conn:
                conn.execute(timer_launchers.update().where(timer_launchers.c.id == launcher.id)
                             .values(last_error=f"{type(err).__name__}: {err}"[:2000]))
            return None

    def _advance(self, launcher, now, instance_id):
        tick = utc(launcher.next_due_at)
        remaining = launcher.remaining - 1 if launcher.remaining > 0 else launcher.remaining
        following = None
        if remaining != 0 and cron.PREFIX in launcher.expression:  # the next cron tick after this one (or now)
            value = self.engine.script_engine.environment.evaluate(launcher.expression, {})
            following = cron.next_fire(value, max(tick, now))
        elif remaining != 0 and launcher.interval_seconds > 0:
            step = timedelta(seconds=launcher.interval_seconds)
            following = tick + step
            if following <= now:  # missed ticks: one catch-up launch, then back on the beat
                following += step * ((now - following) // step + 1)
        values = {"next_due_at": following, "remaining": remaining}
        if instance_id is not None:
            values.update(launched=timer_launchers.c.launched + 1, last_instance_id=instance_id, last_error=None)
        with self.engine.db.begin() as conn:
            conn.execute(timer_launchers.update().where(timer_launchers.c.id == launcher.id,
                                                        timer_launchers.c.next_due_at == launcher.next_due_at)
                         .values(**values))


def _fired_start(element_id):
    """Mark the start event's timer as fired, so the new instance runs on from it at once."""
    def prepare(workflow):
        for task in list(all_tasks(workflow)):
            if task.task_spec.bpmn_id == element_id and task.state & TaskState.NOT_FINISHED_MASK:
                task._set_internal_data(event_fired=True)
                if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition) and not task.children:
                    for output in task.task_spec.outputs:  # a cycle predicts no successors of its own
                        child = task._add_child(output, TaskState.FUTURE)
                        child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
    return prepare
