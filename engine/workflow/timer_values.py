"""`timer_value`, through which every timer body passes (see `parsing.timer_expression`).

It turns what a designer writes or computes into what SpiffWorkflow's timers read: ISO strings with an
offset. Dates and times without an offset are read in the deployment's time zone (FOLLOWUP_TIMEZONE),
never in the server's.
"""
from datetime import date, datetime, time, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.workflow.cron import PREFIX as CRON_PREFIX
from engine.workflow.parsing import _ISO_CYCLE, _ISO_DURATION


def make_timer_value(zone, min_cycle_seconds=60.0):
    """`min_cycle_seconds`: a cycle whose interval is shorter is refused (`R/PT0S` would fire for ever)."""
    def localize(moment: datetime) -> str:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.isoformat()

    def timer_value(value):
        if isinstance(value, timedelta):
            return f"PT{int(value.total_seconds())}S"
        if isinstance(value, datetime):
            return localize(value)
        if isinstance(value, date):
            return localize(datetime.combine(value, time(0, 0)))
        if not isinstance(value, str):
            raise ValueError(f"a timer needs a date, a duration or a cycle, not {value!r}")
        text = value.strip()
        if text.startswith(CRON_PREFIX) and "|" not in text:  # a Quartz cron cycle (cron.py), in our zone
            return f"{CRON_PREFIX}{getattr(zone, 'key', '')}|{text[len(CRON_PREFIX):]}"
        if _ISO_DURATION.match(text):
            return text
        if _ISO_CYCLE.match(text):
            parts = text.split("/")
            cycle = "/".join(p if _ISO_DURATION.match(p) or p.upper().startswith("R") else timer_value(p)
                             for p in parts)
            try:
                interval = TimerEventDefinition.parse_iso_recurring_interval(cycle)[2].total_seconds()
            except Exception:  # noqa: BLE001 - the library raises bare errors for a broken cycle
                raise ValueError(f"'{text}' is not an ISO 8601 cycle (like R3/PT1H)") from None
            if interval < min_cycle_seconds:
                raise ValueError(f"the timer cycle '{text}' repeats every {interval:g} s; the shortest interval "
                                 f"allowed is {min_cycle_seconds:g} s (FOLLOWUP_MIN_TIMER_CYCLE_SECONDS)")
            return cycle
        try:
            return localize(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"'{text}' is not an ISO 8601 date, duration or cycle") from None

    return timer_value


__all__ = ["make_timer_value", "TimerEventDefinition"]


def shift_relative_timers(workflow, delta: timedelta) -> int:
    """Move the pending duration and cycle timers of `workflow` later by `delta` (a suspension's length);
    absolute dates stay. Returns how many moved."""
    from datetime import timezone

    from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                                  DurationTimerEventDefinition, TimerEventDefinition)
    from SpiffWorkflow.util.task import TaskState

    moved = 0
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        value = task._get_internal_data("event_value")
        if value is None or task._get_internal_data("event_fired", False):
            continue
        if isinstance(definition, DurationTimerEventDefinition) and isinstance(value, str):
            due = TimerEventDefinition.get_datetime(value)
            if due.tzinfo is None:
                due = due.replace(tzinfo=timezone.utc)
            task._set_internal_data(event_value=(due + delta).isoformat())
            moved += 1
        elif isinstance(definition, CycleTimerEventDefinition) and isinstance(value, dict) and value.get("next"):
            task._set_internal_data(event_value={**value, "next": (datetime.fromisoformat(value["next"]) + delta)
                                                 .isoformat()})
            moved += 1
    return moved
