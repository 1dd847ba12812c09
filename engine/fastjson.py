"""JSON text read by orjson (several times faster than the standard library), with the standard library
taking over wherever orjson would read something else: integers of 19 digits or more (orjson turns those
beyond 64 bits into floats, silently) and NaN or Infinity (which Python's own json writes, orjson refuses)."""
import json

import orjson

# A run of 19 digits, found as 19 zeros once every digit is a zero: a tenth of a regular expression's time.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(text, strict=False):
    """`strict`: NaN and Infinity are refused (ValueError), as RFC 8259 has no such values."""
    if isinstance(text, str):
        data = text.encode()
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = text = bytes(text)
    else:  # as json.loads: SQLAlchemy reads a number SQLite stored in a JSON column this way
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
    if _NINETEEN_DIGITS not in data.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text, parse_constant=_refuse if strict else None)


def _refuse(constant):
    raise ValueError(f"{constant} is not a JSON value")


class Problem(tuple):
    """(path, reason): where in a value the problem is ("variables.note"; "" for the top) and what it is."""

    def __new__(cls, path, reason):
        return super().__new__(cls, (path, reason))

    path = property(lambda self: self[0])
    reason = property(lambda self: self[1])

    def __str__(self):
        return f"{self.reason} (at {_short(self.path)})"


def problem_in(value, max_depth, outer_levels=0, max_items=None, max_chars=None) -> Problem | None:
    """What makes `value` (as read from JSON) unfit to store, or None: nesting deeper than `max_depth`
    (SpiffWorkflow's restore and Python's json recurse once per level or more), a NUL character (which
    PostgreSQL cannot store in text) or a lone surrogate (not Unicode text) in a string or a key. Iterative:
    a value a million levels deep is answered, not a RecursionError. `outer_levels`: levels of wrapping
    that do not count (a request body's own object around the variables). `max_items`, `max_chars`:
    budgets of values and of characters, so a list holding the same big list a million times is found too
    large at once rather than walked (or written) for hours. The path to a problem is only spelt out when
    there is one: this runs on every change."""
    items = max_items if max_items is not None else float("inf")
    chars = max_chars if max_chars is not None else float("inf")
    stack = [(value, 1 - outer_levels, None)]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            chars -= len(item)
        elif isinstance(item, (dict, list, tuple)):
            items -= len(item)
        if items < 0 or chars < 0:
            return Problem(_path(where), f"the values are too large to store (more than {max_items:,} values "
                                         f"or {max_chars:,} characters)")
        if isinstance(item, str):
            bad = _bad_text(item)
            if bad:
                return Problem(_path(where), bad)
            continue
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, (list, tuple)):
            children = enumerate(item)
        else:
            continue
        if depth > max_depth:
            return Problem(_path(where), f"values may be nested at most {max_depth} levels deep")
        for key, child in children:
            if isinstance(key, str):
                bad = _bad_text(key)
                if bad:
                    return Problem(_path((where, key)), f"{bad} (in a name)")
            if isinstance(child, (dict, list, tuple, str)):
                stack.append((child, depth + 1, (where, key)))
    return None


def _path(where):
    parts = []
    while where is not None:
        where, key = where
        parts.append(str(key))
    return ".".join(reversed(parts))


def _bad_text(text):
    if "\x00" in text:
        return "text must not contain NUL characters"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
    return None


def _short(where):
    if not where:
        return "the top"
    return where if len(where) <= 60 else where[:57] + "..."
