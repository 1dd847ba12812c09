"""The one context variable of the change now running: its connection, instance, actor and the
messages it will send.

`InstanceStore.start`/`change` enter a `scope()` around each change (each try of it) and `attach` the
connection and the instance once loaded; service-task operations read it with `current()`; scripts
call `notify(channel, text)`, which buffers a message in the scope. The store writes the buffered
messages into the `outbox` table together with the instance's new state (`take_messages`), so a
message is sent only if its change commits. A nested scope (an instance started by a service task) has
its own messages; `savepoint()` drops what a failing block buffered, like a rolled-back savepoint.
Like flask/globals.py and temporalio's activity context: one ContextVar, module-level accessors.
"""
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

NOTIFY = "notify"  # the outbox topic of `notify` messages


@dataclass
class OperationContext:
    store: object                       # the InstanceStore (to start other instances in this change)
    conn: object = None                 # the instance's SQLAlchemy connection, inside its transaction
    instance_id: str | None = None
    business_key: str | None = None
    process_key: str | None = None
    actor: str | None = None
    task: object = None                 # the SpiffWorkflow task whose operation is running
    messages: list = field(default_factory=list)  # (topic, payload) to write to the outbox on save
    printed: list = field(default_factory=list)   # lines scripts printed (into the change's audit event)

    def attach(self, conn, instance_id, business_key, process_key, actor):
        self.conn, self.instance_id, self.business_key = conn, instance_id, business_key
        self.process_key, self.actor = process_key, actor


_current: ContextVar[OperationContext | None] = ContextVar("operation_context", default=None)


def current() -> OperationContext | None:
    return _current.get()


@contextmanager
def scope(store):
    """Enter around a change's transaction; nested scopes (an instance started by another) stack, each
    with its own messages. A retried change enters a new scope: nothing buffered by the failed try is sent."""
    ctx = OperationContext(store)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def notify(channel, text, mentions=None):
    """Script helper: send `text` to the configured `channel` (a WeCom or DingTalk robot, a webhook)
    once this change commits. Outside a change (nothing to commit) the message goes nowhere."""
    if not isinstance(channel, str) or not isinstance(text, str):
        raise ValueError("notify(channel, text) needs two strings")
    ctx = _current.get()
    if ctx is not None:
        ctx.messages.append((NOTIFY, {"channel": channel, "text": text, "mentions": list(mentions or [])}))
    return True


PRINT_LINES, PRINT_LINE_CHARS = 100, 2000


def script_print(*values, sep=" ", end="\n", **_ignored):
    """Script helper: `print` as in Python; the lines go to the change's audit event (`printed`) and the
    `followup.script` log, not to the server's stdout. At most PRINT_LINES lines per change are kept."""
    text = str(sep).join(str(v) for v in values)
    ctx = _current.get()
    logging.getLogger("followup.script").info("%s", text, extra={"instance_id": getattr(ctx, "instance_id", None)})
    if ctx is not None and len(ctx.printed) < PRINT_LINES:
        ctx.printed.append(text[:PRINT_LINE_CHARS])


def take_printed() -> list:
    ctx = _current.get()
    if ctx is None or not ctx.printed:
        return []
    taken, ctx.printed = ctx.printed, []
    return taken


@contextmanager
def savepoint():
    """Messages buffered inside the block are dropped if it raises (like the rows of a rolled-back
    savepoint: a failed service-task operation or script sends nothing)."""
    ctx = _current.get()
    mark = len(ctx.messages) if ctx is not None else 0
    try:
        yield
    except BaseException:
        if ctx is not None:
            del ctx.messages[mark:]
        raise


def take_messages() -> list:
    """The messages buffered so far in this change, handed over once (the store writes them)."""
    ctx = _current.get()
    if ctx is None or not ctx.messages:
        return []
    taken, ctx.messages = ctx.messages, []
    return taken
