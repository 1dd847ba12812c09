"""The instance transaction that service-task operations work in.

`InstanceStore.start`/`change` open a `scope()` around each change and `attach` the connection and the
instance once loaded; operations called from the engine steps read it with `current()`. Everything an
operation does (rows, notifications, other instances it starts) goes through that connection, so it
commits with the change or not at all.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class OperationContext:
    store: object                       # the InstanceStore (to start other instances in this change)
    conn: object = None                 # the instance's SQLAlchemy connection, inside its transaction
    instance_id: str | None = None
    business_key: str | None = None
    process_key: str | None = None
    actor: str | None = None
    task: object = None                 # the SpiffWorkflow task whose operation is running

    def attach(self, conn, instance_id, business_key, process_key, actor):
        self.conn, self.instance_id, self.business_key = conn, instance_id, business_key
        self.process_key, self.actor = process_key, actor


_current: ContextVar[OperationContext | None] = ContextVar("operation_context", default=None)


def current() -> OperationContext | None:
    return _current.get()


@contextmanager
def scope(store):
    """Enter around a change's transaction; nested scopes (an instance started by another) stack."""
    ctx = OperationContext(store)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
