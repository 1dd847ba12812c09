"""Quartz cron cycles in `timeCycle` (what Camunda Modeler users write: `0 0/5 * * * ?`, `0 0 9 ? * MON-FRI`),
run by croniter (pallets-eco), not by a parser of our own.

At parse time a cron body becomes `timer_value('cron:<expression>')`; `timer_value` adds the deployment's
time zone (`cron:<zone>|<expression>`), and `ParsedBundle.spec_for` gives such timers the
`CronTimerEventDefinition` below (while the spec is built, never while an instance runs). Its event value
keeps SpiffWorkflow's cycle shape `{cycles, next, duration}` with cycles -1 (no end), so snapshots and
the scheduler read it like any cycle; `next` is the following fire time after each tick.
"""
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition

PREFIX = "cron:"
_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#]+$")


def looks_like_cron(text: str) -> bool:
    fields = (text or "").split()
    return 5 <= len(fields) <= 7 and all(_FIELD.match(f) for f in fields) and not text.strip().upper().startswith(("R", "P"))


def _weekdays(field):
    """Quartz numbers weekdays 1 (Sunday) to 7 (Saturday); cron 0 (Sunday) to 6."""
    def shift(match):
        return str(int(match.group(0)) - 1)
    out = []
    for part in field.split(","):
        match = re.match(r"^([^/#]*)(.*)$", part)  # the numbers before a step '/n' or an nth '#n'
        head, tail = match.group(1), match.group(2)
        sep = ""
        out.append(re.sub(r"\d+", shift, head) + sep + tail)
    return ",".join(out)


def to_croniter(quartz: str) -> str:
    """croniter's form (seconds first) of a Quartz expression; ValueError saying what is wrong."""
    fields = quartz.split()
    if len(fields) == 5:  # plain cron, no seconds
        fields = ["0", *fields]
    elif len(fields) == 7:
        if fields[6] not in ("*", "?"):
            raise ValueError("a year field other than '*' is not supported")
        fields = fields[:6]
    elif len(fields) != 6:
        raise ValueError("a cron cycle has 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year])")
    if "W" in fields[3].upper().replace("WED", ""):
        raise ValueError("'W' (nearest weekday) is not supported")
    fields[5] = _weekdays(fields[5])
    expression = " ".join(fields)
    if not croniter.is_valid(expression, second_at_beginning=True):
        raise ValueError(f"'{quartz}' is not a valid cron expression")
    return expression


def next_fire(value: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` of `cron:<zone>|<quartz>`, in UTC."""
    body = value[len(PREFIX):]
    zone_name, _, quartz = body.rpartition("|")
    zone = ZoneInfo(zone_name) if zone_name else timezone.utc
    start = after.astimezone(zone)
    fire = croniter(to_croniter(quartz), start, second_at_beginning=True).get_next(datetime)
    return fire.astimezone(timezone.utc)


def is_cron_timer(event_definition) -> bool:
    return isinstance(event_definition, CycleTimerEventDefinition) and f"'{PREFIX}" in (event_definition.expression or "")


class CronTimerEventDefinition(CycleTimerEventDefinition):
    """A cycle whose ticks come from a cron expression; it never runs out."""

    def cycle_complete(self, my_task):
        now = spiff_timer.datetime.now(timezone.utc)  # the module's clock (the tests' clock moves it)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            event_value = {"cycles": -1, "next": next_fire(value, now).isoformat(), "duration": 0, "cron": value}
        ready = False
        due = datetime.fromisoformat(event_value["next"])
        if due < now:
            event_value["next"] = next_fire(event_value["cron"], max(due, now)).isoformat()
            ready = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def fit(spec):
    """Give the spec's cron cycles their event definition (a spec being built, not yet running)."""
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if is_cron_timer(definition) and not isinstance(definition, CronTimerEventDefinition):
            cron = CronTimerEventDefinition.__new__(CronTimerEventDefinition)
            cron.__dict__.update(definition.__dict__)
            task_spec.event_definition = cron
