"""Camunda 7's wire shapes: typed variables `{value, type, valueInfo}`, its date format
(`2026-11-30T09:15:00.000+0000`), definition ids (`key:version:id`) and error bodies `{type, message}`."""
import json
from datetime import date, datetime, timezone

from engine.errors import InvalidInput

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1


def camunda_date(value) -> str | None:
    """Camunda's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (milliseconds, offset without a colon), in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_date(text, name="date"):
    if text is None or isinstance(text, datetime):
        return text
    try:
        return datetime.strptime(text, DATE_FORMAT)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{name}: '{text}' is not a date in Camunda's format yyyy-MM-dd'T'HH:mm:ss.SSSZ",
                               {name: ["not a date"]}) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def definition_id(key, version, ident) -> str:
    return f"{key}:{version}:{ident}"


def typed(value) -> dict:
    """A Python value as Camunda types it."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        return {"type": "Integer" if _INT_MIN <= value <= _INT_MAX else "Long", "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    if isinstance(value, datetime):
        return {"type": "Date", "value": camunda_date(value), "valueInfo": {}}
    if isinstance(value, date):
        return {"type": "String", "value": value.isoformat(), "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, ensure_ascii=False, default=str), "valueInfo": {}}


def typed_variables(variables: dict | None) -> dict:
    return {name: typed(value) for name, value in (variables or {}).items()}


_NUMBER_TYPES = {"integer": int, "long": int, "short": int, "double": float}


def untyped(name, variable):
    """The Python value of a variable as a client sends it (`{"value": ..., "type": ...}`)."""
    if not isinstance(variable, dict):
        raise InvalidInput(f"variable '{name}' must be an object {{value, type, valueInfo}}",
                           {name: ["must be {value, type, valueInfo}"]})
    value, kind = variable.get("value"), (variable.get("type") or "").lower()
    info = variable.get("valueInfo") or {}
    try:
        if value is None or kind == "null":
            return None
        if kind in _NUMBER_TYPES:
            number = _NUMBER_TYPES[kind](value)
            if kind != "double" and number != float(value):
                raise ValueError
            return number
        if kind == "boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false"):
                    raise ValueError
                return value.lower() == "true"
            return bool(value)
        if kind == "string":
            return str(value)
        if kind == "date":
            return parse_date(value, name)
        if kind == "json" or (kind == "object" and "json" in str(info.get("serializationDataFormat", "json"))):
            return json.loads(value) if isinstance(value, str) else value
        if kind in ("", "object"):
            return value
    except (TypeError, ValueError):
        raise InvalidInput(f"variable '{name}': {value!r} is not a valid {variable.get('type')}",
                           {name: [f"not a valid {variable.get('type')}"]}) from None
    raise InvalidInput(f"variable '{name}': the type '{variable.get('type')}' is not supported (supported: String, "
                       "Integer, Long, Short, Double, Boolean, Date, Json, Object as JSON, Null)",
                       {name: ["unsupported type"]})


def untyped_variables(variables) -> dict:
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidInput("variables must be an object of name -> {value, type, valueInfo}",
                           {"variables": ["must be an object"]})
    return {name: untyped(name, v) for name, v in variables.items()}
