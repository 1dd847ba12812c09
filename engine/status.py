"""The statuses of a process instance, like rq's JobStatus and viewflow's workflow/status.py.

`StrEnum` members are `str`: they compare equal to the stored strings and are written to rows and JSON
as those strings."""
import enum


class InstanceStatus(enum.StrEnum):
    WAITING = "waiting"         # waiting for a timer or a message
    USER_INPUT = "user_input"   # waiting for a person (an open human task)
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"     # stopped by a supervisor; nothing fires until resumed
    ERROR = "error"             # an incident: a script or operation failed; a supervisor may retry


FINAL = frozenset({InstanceStatus.COMPLETE, InstanceStatus.CANCELLED})     # nothing changes any more
PARKED = frozenset({InstanceStatus.SUSPENDED, InstanceStatus.ERROR})       # timers wait until it moves again
