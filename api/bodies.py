"""before_request: JSON request bodies are checked before any route reads them, so a careless or hostile
body gets a 4xx naming the limit instead of a 500 (or a value stored that can never be read back):

- larger than FOLLOWUP_MAX_JSON_BYTES (default 1 MiB): 413;
- nested deeper than the engine's `Limits.max_value_depth` (default 32): 400;
- a lone surrogate (`"\\ud800"`) or a NUL character in any text or name: 422, naming the field.

File uploads (multipart) are bounded by MAX_CONTENT_LENGTH (FOLLOWUP_MAX_UPLOAD_BYTES) instead.
"""
import json
import os
import re

import orjson
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import BadInput
from engine import fastjson
from engine.config import env_number
from engine.errors import InvalidInput

DEFAULT_MAX_JSON_BYTES = 1024 * 1024
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def max_json_bytes():
    return env_number(os.environ, "FOLLOWUP_MAX_JSON_BYTES", int, DEFAULT_MAX_JSON_BYTES)


def check_json_body():
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.is_json:
        return
    limit = current_app.config["FOLLOWUP_MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    data = request.get_data(cache=True)  # kept for the route's own parser
    if len(data) > limit:
        raise _too_large(limit)
    if not data.strip():
        return
    max_depth = current_app.extensions["followup"].engine.settings.limits.max_value_depth
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        reason = str(err)
        if "surrogate" in reason:
            raise InvalidInput("the JSON body is not valid Unicode: a lone surrogate such as \\ud800 is not text",
                               {"_body": ["a lone surrogate is not text"]}) from None
        if "depth limit" in reason or _depth(data) > max_depth + 1:
            raise BadInput(f"the JSON body is nested more than {max_depth} levels deep") from None
        try:  # what orjson does not read but the routes' parser does (integers beyond 64 bits)
            value = json.loads(data)
        except (ValueError, RecursionError):
            return  # broken JSON: the route's parser answers 400 "Invalid JSON body"
    problem = fastjson.problem_in(value, max_depth, outer_levels=1)  # the body's own object holds the variables
    if problem is None:
        return
    if "nested" in problem.reason:
        raise BadInput(f"the JSON body cannot be used: {problem}")
    field = problem.path.split(".", 1)[0] or "_body"
    raise InvalidInput(f"the JSON body cannot be used: {problem}", {field: [problem.reason]})


def _depth(data: bytes) -> int:
    """The deepest nesting of brackets outside strings (only when orjson refused the body)."""
    text = _STRINGS.sub(b'""', data)
    depth = deepest = 0
    for byte in text:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _too_large(limit):
    error = RequestEntityTooLarge(f"the JSON body is larger than {limit:,} bytes (FOLLOWUP_MAX_JSON_BYTES)")
    return error
