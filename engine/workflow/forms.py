"""Checking a completed task's values against its form fields (Camunda Modeler's `camunda:formData`).

Every bad field is reported at once, each with its reasons, so an agent fixes a form in one go.
"""
from datetime import date, datetime

from engine.errors import InvalidInput

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(field, value):
    kind = (field.get("type") or "string").lower()
    if kind in ("long", "integer", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("must be a whole number")
        try:
            number = int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not -2**63 <= number < 2**63:  # what the database and JSON readers keep exactly
            raise ValueError("must be a whole number between -9223372036854775808 and 9223372036854775807")
        return number
    if kind in ("double", "number", "float", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number")
        try:
            return float(value)
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError("must be true or false")
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError("must be a date like 2026-12-01")
        try:
            parsed = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date like 2026-12-01") from None
        return parsed.isoformat()
    if kind == "enum":
        allowed = [option["id"] for option in field.get("enum") or []]
        by_label = {option["name"]: option["id"] for option in field.get("enum") or [] if option.get("name")}
        if value not in allowed and isinstance(value, str) and value in by_label:
            return by_label[value]  # the label a person reads (已联系) stands for its id (reached)
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(map(str, allowed))}")
        return value
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def _limits(field, value):
    reasons = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if field.get("min") is not None and value < field["min"]:
            reasons.append(f"must be at least {field['min']:g}")
        if field.get("max") is not None and value > field["max"]:
            reasons.append(f"must be at most {field['max']:g}")
    if isinstance(value, str):
        if field.get("minlength") is not None and len(value) < field["minlength"]:
            reasons.append(f"must be at least {field['minlength']} characters long")
        if field.get("maxlength") is not None and len(value) > field["maxlength"]:
            reasons.append(f"must be at most {field['maxlength']} characters long")
    return reasons


def _default(field):
    if field.get("default") in (None, ""):
        return None
    try:
        return _coerce(field, field["default"])
    except ValueError:
        return None


def validate(fields: list[dict], values: dict, others_allowed=False, reserved=frozenset()) -> dict:
    """Return the values converted to their field types, or raise InvalidInput listing every problem.
    `others_allowed`: names that are not fields pass as they are (a start form names what a process
    needs; a starter may hand it more). `reserved`: names no variable may take (the helpers scripts
    call, e.g. `timer_value`, `now`)."""
    if not isinstance(values, dict):
        raise InvalidInput("variables must be an object", {"variables": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    cleaned = {}
    known = {f["id"] for f in fields}
    for name in values:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            errors.setdefault(str(name), []).append("is not a valid variable name")
        elif name in reserved:
            errors.setdefault(name, []).append("is reserved: scripts use this name (变量名已被保留)")
        elif fields and name not in known and not others_allowed:
            errors.setdefault(name, []).append("is not a field of this form")
    for field in fields:
        name = field["id"]
        value = values.get(name)
        if field.get("readonly") and name in values:
            errors.setdefault(name, []).append("is read-only")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):  # "   " or "\u3000" says nothing
            if field.get("required"):
                errors.setdefault(name, []).append("is required")
            elif not field.get("readonly"):
                # Like Camunda: a field left empty is still a variable (its default, else None), so a
                # gateway condition on an optional field does not fail for want of the name.
                cleaned[name] = _default(field)
            continue
        try:
            value = _coerce(field, value)
        except ValueError as err:
            errors.setdefault(name, []).append(str(err))
            continue
        reasons = _limits(field, value)
        if reasons:
            errors.setdefault(name, []).extend(reasons)
            continue
        cleaned[name] = value
    if errors:
        raise InvalidInput("some values do not fit the form: " + "; ".join(
            f"{name} {', '.join(reasons)}" for name, reasons in errors.items()), errors)
    if not fields:
        cleaned = dict(values)
    elif others_allowed:
        cleaned = {**{k: v for k, v in values.items() if k not in known}, **cleaned}
    return cleaned
