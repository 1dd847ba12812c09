"""The engine's clock: real UTC time, which tests may move forward instead of sleeping.

SpiffWorkflow's timer events call `datetime.now(timezone.utc)` inside their own module, so the module's
`datetime` name is pointed at a subclass whose `now()` reads this clock. That is the only patch applied
to the library; everything else goes through its public API.
"""
from datetime import datetime, timedelta, timezone

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

_offset = timedelta(0)


def now() -> datetime:
    """Current time in UTC, shifted by whatever `advance` added."""
    return datetime.now(timezone.utc) + _offset


def advance(delta: timedelta) -> None:
    """Move the clock forward (tests and simulations only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        current = now()
        return current if tz is None or tz is timezone.utc else current.astimezone(tz)


def utc(value):
    """A datetime read back from the database as UTC (SQLite hands back naive values)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


_spiff_timer.datetime = _ClockDatetime
