"""Scripts and conditions from BPMN run here, never with Python's full powers.

Two layers, both cheap:
1. a static check of the syntax tree, done at deploy time (so a bad diagram is refused, naming the
   element) and again before a code object is first cached at run time: no `import`, no names or
   attributes that start with an underscore, no frame/code/generator internals, no `str.format`
   (its `{0.__class__}` fields reach attributes the tree cannot see);
2. a curated set of builtins: no `open`, `exec`, `eval`, `compile`, `getattr`, `globals`, `type`...

Compiled code objects are cached by source text, which also spares SpiffWorkflow's habit of
re-compiling every expression on every evaluation.

What a script may cost (engine/config.py `Limits`): a time budget per script, enforced by a watchdog that
keeps raising in the script's thread until it has stopped (a `finally:` cannot hold it: `finally` is
refused anyway); and size guards on the operations that run as one long C call no watchdog can interrupt
(`**`, `*`, `+`, `<<`, `%` on text, `range`, padding and joining text), put in by rewriting the syntax
tree. Regular expressions run on RE2, in linear time.
"""
import ast
import builtins
import ctypes
import datetime as _dt
import decimal
import json
import math
import threading
import time
from functools import lru_cache

import re2

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.config import Limits
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


def _safe_builtins(limits=None):
    safe = {name: getattr(builtins, name) for name in ALLOWED_BUILTINS}
    safe["range"] = _SizeGuards(limits or Limits()).range
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
        "re_match": re_match,
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
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 8 << 20  # a pattern whose automaton needs more is refused, not built


@lru_cache(maxsize=512)
def _regex(pattern):
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as err:
        raise ValueError(f"the regular expression {pattern!r} cannot be used: {err}") from None


def re_match(pattern, text) -> bool:
    """Does `text` match `pattern` from its start? RE2 syntax (no backreferences, no look-around), in time
    linear in the text: an agent's note cannot make a pattern backtrack for minutes."""
    if not isinstance(pattern, str) or not isinstance(text, str):
        raise TypeError("re_match needs a pattern and a text")
    return _regex(pattern).match(text) is not None


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

    visit_FunctionDef = visit_AsyncFunctionDef = _check_definition_name

    def visit_ExceptHandler(self, node):
        if node.type is None:
            self._refuse(node, "a bare 'except:' is not allowed; name the exception (e.g. 'except ValueError:')")
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        self._refuse(node, "'class' is not allowed in scripts; use dicts")

    def visit_Try(self, node):
        if node.finalbody:
            self._refuse(node, "'finally' is not allowed in scripts")
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if any(not isinstance(p, ast.Constant) for p in parts):
                self._refuse(node, "a computed format spec ('{x:{width}}') is not allowed")
            elif any(re2.search(r"\d{7,}", str(p.value)) for p in parts):
                self._refuse(node, "a format width of a million characters or more is not allowed")
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


# ---- size guards: operations that would run as one long C call -----------------------------------------

_GUARDED_OPS = {ast.Mult: "__fu_mul", ast.Pow: "__fu_pow", ast.LShift: "__fu_lshift", ast.Add: "__fu_add",
                ast.Mod: "__fu_mod"}
_SIZED_METHODS = frozenset("ljust rjust center zfill expandtabs join replace".split())
_SIZED_CALLS = {"str": "__fu_str", "json_dumps": "__fu_json_dumps", "sum": "__fu_sum"}


class _GuardInserter(ast.NodeTransformer):
    """Rewrites `a * b` as `__fu_mul(a, b)` (and `**`, `<<`, `+`, `%`), `s.ljust(n)` as
    `__fu_method(s, 'ljust', n)`: names a script cannot write (they start with `_`), so it cannot
    replace them either."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        name = _GUARDED_OPS.get(type(node.op))
        if name is None:
            return node
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), [node.left, node.right], []), node)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        name = _GUARDED_OPS.get(type(node.op))
        if name is None:
            return node
        load = _as_load(node.target)
        value = ast.Call(ast.Name(name, ast.Load()), [load, node.value], [])
        return ast.copy_location(ast.Assign([node.target], value), node)

    def visit_FormattedValue(self, node):  # f"{value}": the value is made text in one C call
        self.generic_visit(node)
        node.value = ast.copy_location(ast.Call(ast.Name("__fu_sized", ast.Load()), [node.value], []), node.value)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in _SIZED_CALLS and not node.keywords:
            return ast.copy_location(ast.Call(ast.Name(_SIZED_CALLS[func.id], ast.Load()), node.args, []), node)
        if isinstance(func, ast.Attribute) and func.attr in _SIZED_METHODS:
            return ast.copy_location(ast.Call(ast.Name("__fu_method", ast.Load()),
                                              [func.value, ast.Constant(func.attr), *node.args], node.keywords),
                                     node)
        return node


def _as_load(target):
    if isinstance(target, ast.Name):
        return ast.Name(target.id, ast.Load())
    if isinstance(target, ast.Attribute):
        return ast.Attribute(target.value, target.attr, ast.Load())
    return ast.Subscript(target.value, target.slice, ast.Load())


class ValueTooLarge(ValueError):
    """A script asked for a value too large to compute within a change's budget."""


_SEQUENCES = (str, bytes, list, tuple)


class _SizeGuards:
    """The functions `_GuardInserter` calls: each checks the size of what it would build, then builds it."""

    def __init__(self, limits: Limits):
        self.max_sequence = limits.max_sequence
        self.max_int_bits = limits.max_int_bits

    def _too_large(self, what):
        raise ValueTooLarge(f"{what} is too large for a script (the limit is {self.max_sequence:,} items "
                       f"and {self.max_int_bits:,}-bit whole numbers)")

    def _sequence(self, items):
        if items > self.max_sequence:
            self._too_large(f"a text or list of {items:,} items")

    def mul(self, a, b):
        ta, tb = type(a), type(b)
        if ta is float or tb is float:
            return a * b
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > self.max_int_bits:
                self._too_large("the product")
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            self._sequence(len(a) * max(b, 0))
        elif isinstance(b, _SEQUENCES) and isinstance(a, int):
            self._sequence(len(b) * max(a, 0))
        return a * b

    def pow(self, a, b):
        if type(a) is int and type(b) is int and b > 0 and abs(a) > 1:
            if b * a.bit_length() > self.max_int_bits:
                self._too_large(f"{a} ** {b}")
        elif isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
            if abs(b) > 10_000:
                self._too_large(f"a power of {b}")
        return a ** b

    def lshift(self, a, b):
        if type(a) is int and type(b) is int and a and a.bit_length() + b > self.max_int_bits:
            self._too_large(f"{a} << {b}")
        return a << b

    def add(self, a, b):
        if type(a) is not int and type(a) is not float and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self._sequence(len(a) + len(b))
        return a + b

    def sized(self, value):
        """`value`, once it is known that writing it as text stays within the limit: a list holding the
        same big list ten million times is small in memory and enormous as text."""
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            budget, stack = self.max_sequence, [value]
            while stack:
                item = stack.pop()
                if isinstance(item, (str, bytes)):
                    budget -= len(item)
                elif isinstance(item, dict):
                    budget -= len(item) + 1
                    if budget >= 0:
                        stack.extend(item.keys())
                        stack.extend(item.values())
                elif isinstance(item, (list, tuple, set, frozenset)):
                    budget -= len(item) + 1
                    if budget >= 0:
                        stack.extend(item)
                else:
                    budget -= 1
                if budget < 0:
                    self._too_large("the text of this value")
        return value

    def str(self, *args):
        return str(self.sized(args[0]), *args[1:]) if args else ""

    def json_dumps(self, value):
        return json.dumps(self.sized(value), ensure_ascii=False)

    def sum(self, iterable, *start):
        if start and not isinstance(start[0], (int, float, decimal.Decimal)):
            raise TypeError("sum() adds numbers; to join lists use a list comprehension or a loop")
        return sum(iterable, *start)

    def mod(self, a, b):
        if isinstance(a, str):
            self.sized(b)
            values = b if isinstance(b, tuple) else (b,)
            if any(type(v) is int and abs(v) > self.max_sequence for v in values) or re2.search(r"\d{7,}", a):
                self._too_large("the width in this % format")
        return a % b

    def method(self, obj, name, *args, **kwargs):
        if isinstance(obj, (str, bytes)):
            if name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
                self._sequence(args[0])
            elif name == "expandtabs":
                size = args[0] if args else kwargs.get("tabsize", 8)
                if isinstance(size, int):
                    self._sequence(len(obj) * max(size, 1))
            elif name == "join":
                parts = list(args[0]) if args else []
                self._sequence(sum(len(p) for p in parts if isinstance(p, (str, bytes)))
                               + len(obj) * max(len(parts) - 1, 0))
                args = (parts, *args[1:])
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], (str, bytes)):
                old, new = args[0], args[1]
                count = len(obj) + 1 if not old else obj.count(old)
                self._sequence(len(obj) + count * max(len(new) - len(old), 0))
        return getattr(obj, name)(*args, **kwargs)

    def range(self, *args):
        made = range(*args)
        self._sequence(len(made))
        return made

    def functions(self):
        return {"__fu_mul": self.mul, "__fu_pow": self.pow, "__fu_lshift": self.lshift, "__fu_add": self.add,
                "__fu_mod": self.mod, "__fu_method": self.method, "__fu_sized": self.sized, "__fu_str": self.str,
                "__fu_json_dumps": self.json_dumps, "__fu_sum": self.sum}


GUARD_NAMES = frozenset(_SizeGuards(Limits()).functions())


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str):
    check_source(source, mode)
    tree = _GuardInserter().visit(ast.parse(source, mode=mode))
    return compile(ast.fix_missing_locations(tree), "<string>", mode)


class ScriptTimeout(Exception):
    """A script or expression ran longer than its time limit (an endless loop, most likely)."""


class _Stop(BaseException):
    """Raised inside a script's thread by the watchdog. A BaseException, so `except Exception:` in a
    script cannot swallow it (and bare `except:` is refused at deploy time)."""


class _Watchdog:
    """Stops scripts that run past their deadline by raising `_Stop` in their thread (CPython's
    PyThreadState_SetAsyncExc), and raising it again every `REPEAT` seconds for as long as the script
    still runs: whatever the script does with the first one, the next one follows. A loop of Python code
    stops within a tenth of a second of the deadline; one long C-level operation runs on until it returns
    (the size guards keep those short).

    An asynchronous exception can land between any two calls, the guard's own exit included; one that
    lands after the guard would hit whatever the thread does next (a request's code, the test runner).
    So `run` has no context manager (whose `__exit__` could be hit before it unregisters) and ends in
    two steps: first the entry is marked closing, a single store that nothing can interrupt, after which
    the watchdog raises no more; then, under the watchdog's lock, it is removed and the one exception that
    may still be pending is withdrawn. Should that one land first, it is caught where it lands (in
    `_close`, or, landing as `_close` is entered from the `finally`, in `run`'s handler, which closes
    again): no `_Stop` ever leaves `run`, and no entry outlives it."""

    TICK = 0.05
    REPEAT = 0.02
    _THREAD, _DEADLINE, _RAISED, _CLOSING = range(4)

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}
        self._thread = None

    def run(self, limit, call, what="script"):
        """`call()` within `limit` seconds, else ScriptTimeout."""
        entry = [threading.get_ident(), time.monotonic() + limit, 0, False]
        token = object()
        with self._lock:
            self._running[token] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="followup-script-watchdog", daemon=True)
                self._thread.start()
        try:
            try:
                result = call()
            finally:
                entry[3] = True  # _CLOSING; a literal index: a plain store, no call the exception could land in
                self._close(token, entry)
        except _Stop:
            entry[3] = True
            self._close(token, entry)
            raise ScriptTimeout(f"the {what} ran longer than {limit:g} s and was stopped") from None
        if entry[self._RAISED]:
            raise ScriptTimeout(f"the {what} ran longer than {limit:g} s and was stopped")
        return result

    def _close(self, token, entry):
        """Remove a closing entry and withdraw its pending stop. The one stop that may still be pending
        (none can follow) lands in here at the latest, and is caught here."""
        for _ in range(3):
            try:
                with self._lock:
                    self._running.pop(token, None)
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[self._THREAD]), None)
                return
            except _Stop:
                pass

    def _watch(self):
        while True:
            time.sleep(self.REPEAT if any(e[self._RAISED] for e in list(self._running.values())) else self.TICK)
            now = time.monotonic()
            with self._lock:
                for entry in self._running.values():
                    if now > entry[self._DEADLINE] and not entry[self._CLOSING]:
                        entry[self._DEADLINE] = now + self.REPEAT
                        entry[self._RAISED] += 1
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[self._THREAD]),
                                                                   ctypes.py_object(_Stop))


_watchdog = _Watchdog()
DEFAULT_TIME_LIMIT = Limits().script_seconds


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, with checked, cached code, curated builtins and a time limit
    per script or expression (`time_limit`, seconds)."""

    def __init__(self, extra_globals=None, time_limit=None, limits=None):
        limits = limits or Limits()
        env_globals = {"__builtins__": _safe_builtins(limits), **helper_functions(), **(extra_globals or {}),
                       **_SizeGuards(limits).functions()}
        super().__init__(env_globals)
        self.time_limit = time_limit if time_limit is not None else limits.script_seconds

    def evaluate(self, expression, context, external_context=None):
        code = compile_checked(expression.strip(), "eval")
        my_globals = dict(self.globals)
        if external_context:
            my_globals.update(external_context)
        my_globals.update(context)
        my_globals["__builtins__"] = self.globals["__builtins__"]
        return _watchdog.run(self.time_limit, lambda: eval(code, my_globals), "expression")

    def execute(self, script, context, external_context=None):
        code = compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        if external_context:
            context.update(external_context)
        try:
            _watchdog.run(self.time_limit, lambda: exec(code, context))
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """Turns a refused script into a task error, like any other script failure."""

    def __init__(self, extra_globals=None, time_limit=None, operations=None, limits=None):
        self.limits = limits or Limits()
        super().__init__(environment=SandboxEnvironment(extra_globals, time_limit, self.limits))
        self.operations = operations  # what service tasks call: a registry with `call(task, name, params)`

    def validate(self, expression):
        check_source(expression)

    def reserved_names(self) -> frozenset:
        """Names a variable may not take: the helpers and builtins scripts call (a variable would hide
        them, e.g. `timer_value`, and so switch off a deadline)."""
        names = getattr(self, "_reserved", None)
        if names is None:
            names = self._reserved = frozenset(self.environment.globals) | frozenset(ALLOWED_BUILTINS)
        return names

    def evaluate(self, task, expression, external_context=None):
        value = super().evaluate(task, expression, external_context)
        spec = getattr(task, "task_spec", None)
        if expression is not None and expression == getattr(spec, "cardinality", None):
            if isinstance(value, bool) or not isinstance(value, int):
                raise WorkflowTaskException(
                    f"the loop cardinality '{expression}' must be a whole number, not {type(value).__name__}",
                    task=task)
            if value > self.limits.max_cardinality:
                raise WorkflowTaskException(
                    f"the loop cardinality {value:,} is more than the limit of {self.limits.max_cardinality:,} "
                    "instances (FOLLOWUP_MAX_CARDINALITY)", task=task)
        return value

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        """Service tasks run a named operation of the registry handed in (engine/sop/, by `Engine`)."""
        if self.operations is None:
            raise WorkflowTaskException(f"no operations are available to run '{operation_name}'", task=task)
        return self.operations.call(task, operation_name, operation_params or {})
