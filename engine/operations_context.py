"""The instance transaction that service-task operations work in.

`InstanceStore.start`/`change` open a `scope()` around each change and `attach` the connection and the
instance once loaded; operations called from the engine steps read it with `current()`. Work that must
not run inside the transaction (starting another instance, which opens its own) is queued with
`after_commit` and runs when the scope closes without an error, i.e. after the commit, like the
outbox's buffered notifications are written only with the change that caused them.
"""
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class OperationContext:
    store: object                       # the InstanceStore (for after-commit starts)
    conn: object = None                 # the instance's SQLAlchemy connection, inside its transaction
    instance_id: str | None = None
    business_key: str | None = None
    process_key: str | None = None
    actor: str | None = None
    pending: list = field(default_factory=list)

    def attach(self, conn, instance_id, business_key, process_key, actor):
        self.conn, self.instance_id, self.business_key = conn, instance_id, business_key
        self.process_key, self.actor = process_key, actor

    def after_commit(self, func, describe=""):
        self.pending.append((func, describe))


_current: ContextVar[OperationContext | None] = ContextVar("operation_context", default=None)


def current() -> OperationContext | None:
    return _current.get()


@contextmanager
def scope(store):
    """Enter before the transaction begins (so this exits after it commits)."""
    ctx = OperationContext(store)
    token = _current.set(ctx)
    try:
        yield ctx
    except BaseException:
        ctx.pending.clear()
        raise
    finally:
        _current.reset(token)
    for func, describe in ctx.pending:
        try:
            func()
        except Exception:  # noqa: BLE001 - the change committed; report, never undo it
            log.exception("after-commit work failed: %s (instance %s)", describe, ctx.instance_id)
            _record_failure(ctx, describe)


def _record_failure(ctx, describe):
    import traceback

    import sqlalchemy as sa  # noqa: F401

    from . import clock
    from .storage.schema import audit_events

    try:
        with ctx.store.db.begin() as conn:
            conn.execute(audit_events.insert().values(
                instance_id=ctx.instance_id, at=clock.now(), actor="engine", action="after_commit_failed",
                detail={"what": describe, "error": traceback.format_exc(limit=2)[-1500:]}))
    except Exception:  # noqa: BLE001
        log.exception("could not record the failure")
