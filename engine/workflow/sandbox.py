"""Scripts and conditions from BPMN run here, never with Python's full powers.

Two layers, both cheap:
1. a static check of the syntax tree, done at deploy time (so a bad diagram is refused, naming the
   element) and again before a code object is first cached at run time: no `import`, no names or
   attributes that start with an underscore, no frame/code/generator internals, no `str.format`
   (its `{0.__class__}` fields reach attributes the tree cannot see);
2. a curated set of builtins: no `open`, `exec`, `eval`, `compile`, `getattr`, `globals`, `type`...

Compiled code objects are cached by source text, which also spares SpiffWorkflow's habit of
re-compiling every expression on every evaluation.
"""
import ast
import builtins
import ctypes
import datetime as _dt
import decimal
import json
import math
import re
import threading
import time
from contextlib import contextmanager
from functools import lru_cache

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import ScriptRefused

ALLOWED_BUILTINS = (
    "abs all any bool dict divmod enumerate filter float frozenset int isinstance len list map max min "
    "next range reversed round set slice sorted str sum tuple zip True False None "
    "ValueError TypeError KeyError IndexError ZeroDivisionError ArithmeticError Exception"
).split()

FORBIDDEN_NAMES = frozenset(
    "open exec eval compile __import__ getattr setattr delattr globals locals vars dir type object "
    "breakpoint input help memoryview super classmethod staticmethod property id hash".split()
)

# Attribute names that lead from an ordinary object to interpreter internals.
FORBIDDEN_ATTRIBUTES = frozenset(
    "format format_map mro f_back f_builtins f_code f_globals f_locals f_trace f_lasti f_lineno "
    "gi_code gi_frame gi_running gi_yieldfrom gi_suspended cr_await cr_code cr_frame cr_origin cr_running "
    "ag_await ag_code ag_frame ag_running co_code co_consts co_names tb_frame tb_next tb_lasti tb_lineno "
    "func_globals func_code im_func im_self".split()
)


def _safe_builtins():
    safe = {name: getattr(builtins, name) for name in ALLOWED_BUILTINS}
    return safe


def helper_functions():
    """Functions and modules every script and condition may use."""
    from engine.clock import now as _now

    return {
        "datetime": _dt.datetime,
        "date": _dt.date,
        "timedelta": _dt.timedelta,
        "timezone": _dt.timezone,
        "Decimal": decimal.Decimal,
        "math": _ReadOnlyNamespace(math, "floor ceil sqrt isclose inf pi fabs"),
        "json_dumps": lambda value: json.dumps(value, ensure_ascii=False),
        "json_loads": json.loads,
        "re_match": lambda pattern, text: re.match(pattern, text) is not None,
        "now": _now,
        "iso_duration": iso_duration,
    }


def zoned_time_helpers(zone):
    """`datetime`, `date` and `now` for scripts, reading the engine's clock in the deployment's time zone
    (FOLLOWUP_TIMEZONE), the zone in which timers and forms read dates without an offset: on a UTC host
    with Asia/Shanghai, `datetime.now()` is Beijing wall time, so a timer set from it fires when meant.
    Constructors and parsers still hand back plain `datetime`/`date` objects (stored as they always were)."""
    from engine.clock import now as _now

    class ZonedDatetime(_dt.datetime):
        def __new__(cls, *args, **kwargs):
            return _dt.datetime(*args, **kwargs)

        @classmethod
        def now(cls, tz=None):
            return _now().astimezone(tz) if tz is not None else _now().astimezone(zone).replace(tzinfo=None)

        @classmethod
        def today(cls):
            return cls.now()

        @classmethod
        def utcnow(cls):
            return _now().replace(tzinfo=None)

    class ZonedDate(_dt.date):
        def __new__(cls, *args, **kwargs):
            return _dt.date(*args, **kwargs)

        @classmethod
        def today(cls):
            return _now().astimezone(zone).date()

    ZonedDatetime.__name__ = ZonedDatetime.__qualname__ = "datetime"
    ZonedDate.__name__ = ZonedDate.__qualname__ = "date"
    return {"datetime": ZonedDatetime, "date": ZonedDate, "now": lambda: _now().astimezone(zone)}


def iso_duration(delta: _dt.timedelta) -> str:
    """A timedelta as an ISO 8601 duration ("PT7200S"), for timer expressions computed from data."""
    return f"PT{int(delta.total_seconds())}S"


class _ReadOnlyNamespace:
    """Exposes a few attributes of a module, and nothing that leads back to the module."""

    def __init__(self, module, names):
        for name in names.split():
            object.__setattr__(self, name, getattr(module, name))

    def __setattr__(self, name, value):
        raise AttributeError("read-only")


class _PolicyChecker(ast.NodeVisitor):
    def __init__(self):
        self.problems = []

    def _refuse(self, node, reason):
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {reason}")

    def visit_Import(self, node):
        self._refuse(node, "'import' is not allowed in scripts")

    visit_ImportFrom = visit_Import

    def visit_Name(self, node):
        if node.id.startswith("_"):
            self._refuse(node, f"the name '{node.id}' is not allowed (names may not start with '_')")
        elif node.id in FORBIDDEN_NAMES:
            self._refuse(node, f"'{node.id}' is not available in scripts")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr.startswith("_"):
            self._refuse(node, f"the attribute '{node.attr}' is not allowed (attributes may not start with '_')")
        elif node.attr in FORBIDDEN_ATTRIBUTES:
            self._refuse(node, f"the attribute '{node.attr}' is not allowed in scripts")
        self.generic_visit(node)

    def _check_definition_name(self, node):
        if node.name.startswith("_"):
            self._refuse(node, f"the name '{node.name}' is not allowed (names may not start with '_')")
        self.generic_visit(node)

    visit_FunctionDef = visit_ClassDef = visit_AsyncFunctionDef = _check_definition_name

    def visit_ExceptHandler(self, node):
        if node.type is None:
            self._refuse(node, "a bare 'except:' is not allowed; name the exception (e.g. 'except ValueError:')")
        self.generic_visit(node)

    def visit_Global(self, node):
        self._refuse(node, "'global' is not allowed in scripts")

    visit_Nonlocal = visit_Global

    def visit_arg(self, node):
        if node.arg.startswith("_"):
            self._refuse(node, f"the name '{node.arg}' is not allowed (names may not start with '_')")


def check_source(source: str, mode: str = "exec") -> None:
    """Raise ScriptRefused naming every rule the source breaks (or its syntax error)."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise ScriptRefused(f"syntax error on line {err.lineno}: {err.msg}") from None
    checker = _PolicyChecker()
    checker.visit(tree)
    if checker.problems:
        raise ScriptRefused("; ".join(checker.problems))


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str):
    check_source(source, mode)
    return compile(source, "<string>", mode)


class ScriptTimeout(Exception):
    """A script or expression ran longer than its time limit (an endless loop, most likely)."""


class _Stop(BaseException):
    """Raised inside a script's thread by the watchdog. A BaseException, so `except Exception:` in a
    script cannot swallow it (and bare `except:` is refused at deploy time)."""


class _Watchdog:
    """Stops scripts that run past their deadline by raising `_Stop` in their thread (CPython's
    PyThreadState_SetAsyncExc). A loop of Python code stops within a tenth of a second of the deadline;
    one long C-level operation (a gigantic power, say) runs on until it returns."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}
        self._thread = None

    @contextmanager
    def guard(self, limit):
        token, thread_id = object(), threading.get_ident()
        with self._lock:
            self._running[token] = (thread_id, time.monotonic() + limit)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="followup-script-watchdog", daemon=True)
                self._thread.start()
        stopped = False
        try:
            yield
        except _Stop:
            stopped = True
        finally:
            with self._lock:
                fired = self._running.pop(token, None) is None
            if fired and not stopped:  # fired, but not delivered yet: withdraw it
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        if fired:
            raise ScriptTimeout(f"the script ran longer than {limit:g} s and was stopped")

    def _watch(self):
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            with self._lock:
                for token, (thread_id, deadline) in list(self._running.items()):
                    if now > deadline:
                        del self._running[token]
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(_Stop))


_watchdog = _Watchdog()
DEFAULT_TIME_LIMIT = 5.0


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, with checked, cached code, curated builtins and a time limit
    per script or expression (`time_limit`, seconds)."""

    def __init__(self, extra_globals=None, time_limit=DEFAULT_TIME_LIMIT):
        env_globals = {"__builtins__": _safe_builtins(), **helper_functions(), **(extra_globals or {})}
        super().__init__(env_globals)
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        code = compile_checked(expression.strip(), "eval")
        my_globals = dict(self.globals)
        if external_context:
            my_globals.update(external_context)
        my_globals.update(context)
        my_globals["__builtins__"] = self.globals["__builtins__"]
        try:
            with _watchdog.guard(self.time_limit):
                return eval(code, my_globals)
        except _Stop:  # delivered a hair late, while the guard was closing
            raise ScriptTimeout(f"the expression ran longer than {self.time_limit:g} s and was stopped") from None

    def execute(self, script, context, external_context=None):
        code = compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        if external_context:
            context.update(external_context)
        try:
            with _watchdog.guard(self.time_limit):
                exec(code, context)
        except _Stop:  # delivered a hair late, while the guard was closing
            raise ScriptTimeout(f"the script ran longer than {self.time_limit:g} s and was stopped") from None
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """Turns a refused script into a task error, like any other script failure."""

    def __init__(self, extra_globals=None, time_limit=DEFAULT_TIME_LIMIT, operations=None):
        super().__init__(environment=SandboxEnvironment(extra_globals, time_limit))
        self.operations = operations  # what service tasks call: a registry with `call(task, name, params)`

    def validate(self, expression):
        check_source(expression)

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        """Service tasks run a named operation of the registry handed in (engine/sop/, by `Engine`)."""
        if self.operations is None:
            raise WorkflowTaskException(f"no operations are available to run '{operation_name}'", task=task)
        return self.operations.call(task, operation_name, operation_params or {})
