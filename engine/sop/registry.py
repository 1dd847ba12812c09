"""Named operations that BPMN service tasks call with parameters: the SOPs' hands on the customer hub.

A diagram names an operation (`camunda:topic="assign_lead"` or `spiffworkflow:serviceTaskOperator
id="assign_lead"`) and passes parameters as sandboxed expressions; deploying a diagram that names an
unknown operation, or a parameter the operation does not take, is refused (workflow/service_tasks.py,
which is handed `OPERATIONS` by `Engine`).

Each operation is `func(ctx, **params) -> JSON-able answer`. It runs inside the instance's own
transaction (`ctx.conn`, see engine/context.py) and inside a savepoint: an operation that raises
leaves no rows behind, its notifications are dropped and the instance gets an incident naming the
operation and the reason, which `retry` runs again once the cause is fixed.

The operations live beside this module by subject (assign, flow, records, watch), each registered with
`@operation()` on the one `OPERATIONS` registry, like routes on a Flask Blueprint; importing `engine.sop`
imports them all. `Engine` hands `OPERATIONS` to the parser and the script engine: nothing below sop/
imports it.
"""
import inspect
import json
from dataclasses import dataclass
from datetime import timezone

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine import clock, context
from engine.customers.common import json_value
from engine.customers.interactions import customer_id_of
from engine.storage.schema import audit_events


class OperationError(Exception):
    """An operation cannot do what it was asked; the message says why, for the incident."""


@dataclass
class Operation:
    name: str
    func: object
    required: frozenset
    optional: frozenset
    open_ended: bool  # takes **fields

    def check_params(self, given: set) -> str | None:
        missing = self.required - given
        unknown = set() if self.open_ended else given - self.required - self.optional
        problems = []
        if missing:
            problems.append(f"missing parameter(s) {', '.join(sorted(missing))}")
        if unknown:
            known = ", ".join(sorted(self.required | self.optional)) or "none"
            problems.append(f"unknown parameter(s) {', '.join(sorted(unknown))} (it takes: {known})")
        return "; ".join(problems) or None


class Registry:
    """Operations by name. What the parser checks service tasks against (`get`, iteration over the
    names) and what the script engine runs them with (`call`)."""

    def __init__(self):
        self.operations: dict[str, Operation] = {}

    def operation(self, name=None):
        """Register `func(ctx, ...)` under `name` (default: the function's name)."""
        def register(func):
            params = list(inspect.signature(func).parameters.values())[1:]
            required = frozenset(p.name for p in params if p.default is p.empty and p.kind == p.KEYWORD_ONLY
                                 or p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD)
            optional = frozenset(p.name for p in params if p.default is not p.empty)
            open_ended = any(p.kind == p.VAR_KEYWORD for p in params)
            key = name or func.__name__
            self.operations[key] = Operation(key, func, required, optional, open_ended)
            return func
        return register

    def get(self, name) -> Operation | None:
        return self.operations.get(name)

    def __iter__(self):
        return iter(self.operations)

    def __contains__(self, name):
        return name in self.operations

    def call(self, task, name, params) -> str:
        """What `SandboxScriptEngine.call_service` does: run the operation, answer JSON."""
        return call_service(self, task, name, params)


OPERATIONS = Registry()
operation = OPERATIONS.operation


# ---- helpers for operations ------------------------------------------------------------------------
def audit(ctx, action, detail):
    """An audit event of the instance (reports read these)."""
    task = getattr(ctx, "task", None)
    ctx.conn.execute(audit_events.insert().values(
        instance_id=ctx.instance_id, at=clock.now(), actor=ctx.actor or "engine", action=action,
        task_id=str(task.id) if task is not None else None,
        element_id=task.task_spec.bpmn_id if task is not None else None,
        detail=json.loads(json.dumps(detail, default=json_value, ensure_ascii=False))))


def customer_of(ctx, customer_id=None) -> int:
    """The customer an operation is about: the parameter, else the instance's business key."""
    value = customer_id if customer_id not in (None, "") else customer_id_of(ctx.business_key)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OperationError(f"no customer given: pass customer_id or start the process with the customer's "
                             f"id as business key (it is {ctx.business_key!r})") from None


def zone_of(ctx):
    """The deployment's time zone, read off the business calendar the script engine carries."""
    helper = ctx.store.script_engine.environment.globals.get("is_working_day")
    return getattr(getattr(helper, "__self__", None), "zone", timezone.utc)


def lead_of(ctx, lead_id=None):
    """The lead parameter, else a business key like 'lead:12'; None if neither names one."""
    if lead_id not in (None, ""):
        return int(lead_id)
    key = str(ctx.business_key or "")
    return int(key[5:]) if key.startswith("lead:") and key[5:].isdigit() else None


# ---- dispatch ---------------------------------------------------------------------------------------
def call_service(registry, task, name, params) -> str:
    operation = registry.get(name)
    if operation is None:
        raise WorkflowTaskException(f"unknown operation '{name}'", task=task)
    ctx = context.current()
    if ctx is None or ctx.conn is None:
        raise WorkflowTaskException(f"operation '{name}' can only run inside an engine change", task=task)
    values = {key: param["value"] for key, param in params.items()}
    ctx.task = task
    try:
        with context.savepoint(), ctx.conn.begin_nested():
            result = operation.func(ctx, **values)
    except Exception as err:  # noqa: BLE001 - every failure becomes the instance's incident
        reason = err.message if hasattr(err, "message") else str(err)
        raise WorkflowTaskException(f"operation '{name}' failed: {reason}", task=task, exception=err) from err
    finally:
        ctx.task = None
    return json.dumps(result, default=json_value, ensure_ascii=False)

