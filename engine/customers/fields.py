"""Field converters: each takes the raw input and returns the stored value or raises ValueError
with a reason a user can act on."""
import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def empty(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def present(value) -> bool:
    return not empty(value)


# Invisible characters that only mislead: controls, zero-width space, direction marks and overrides (a name
# "\u202eoc" reads backwards), the BOM. The joiners of emoji and of some scripts (U+200C, U+200D) stay.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("[\t\r\n\x85\u2028\u2029]+")


def text(max_len, required=False, lines=False):
    """Text of at most `max_len` characters, its invisible characters dropped; a one-line field (a name, a
    title; `lines=False`) has its line breaks and tabs made spaces, as a cell of a sheet would show them."""
    def convert(value):
        out = "" if value is None else _INVISIBLE.sub("", str(value))
        out = (out if lines else _LINE_BREAKS.sub(" ", out)).strip()
        if not out:
            if required:
                raise ValueError("required")
            return None
        if isinstance(value, float) and value.is_integer():
            out = str(int(value))
        if len(out) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        return out
    return convert


def choice(options: dict, default=None):
    """`options` maps every accepted spelling (English code, Chinese label) to the stored code."""
    folded = {k.casefold(): v for k, v in options.items()}

    def convert(value):
        if empty(value):
            return default
        code = folded.get(str(value).strip().casefold())
        if code is None:
            raise ValueError(f"'{value}' is not one of {', '.join(sorted(set(options.values())))}")
        return code
    return convert


def email(value):
    if empty(value):
        return None
    out = str(value).strip()
    if not _EMAIL.match(out) or len(out) > 200:
        raise ValueError(f"'{out}' is not an e-mail address")
    return out


def number(low=None, high=None):
    def convert(value):
        if empty(value):
            return None
        try:
            out = float(str(value).strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a number") from None
        if not math.isfinite(out):  # 'nan' and 'inf' parse, and no range check ever refuses NaN
            raise ValueError(f"'{value}' is not a number")
        if (low is not None and out < low) or (high is not None and out > high):
            raise ValueError(f"{out} is outside {low}..{high}")
        return out
    return convert


def money(value):
    if empty(value):
        return None
    raw = str(value).strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    try:
        out = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not an amount") from None
    if out < 0 or not out.is_finite():
        raise ValueError("an amount cannot be negative")
    return out.quantize(Decimal("0.01"))


def day(value):
    if empty(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip().replace("/", "-").replace(".", "-")
    raw = re.sub(r"(\d+)年(\d+)月(\d+)日?", r"\1-\2-\3", raw)
    try:
        y, m, d = (int(p) for p in raw.split("-"))
        return date(y, m, d)
    except (ValueError, TypeError):
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def boolean(value):
    if empty(value):
        return None
    if isinstance(value, bool):
        return value
    text_ = str(value).strip().casefold()
    if text_ in ("1", "true", "yes", "y", "是", "对"):
        return True
    if text_ in ("0", "false", "no", "n", "否"):
        return False
    raise ValueError(f"'{value}' is not yes/no")


def clean(spec: dict, data: dict, partial=False):
    """Apply `spec` ({field: converter}) to `data`. Returns (values, errors {field: [reasons]}).
    Unknown fields are errors; with `partial` only the given fields are converted."""
    values, errors = {}, {}
    for name in data:
        if name not in spec:
            errors[name] = ["unknown field"]
    for name, convert in spec.items():
        if partial and name not in data:
            continue
        try:
            values[name] = convert(data.get(name))
        except ValueError as err:
            errors[name] = [str(err)]
    return values, errors


def describe(errors: dict) -> str:
    """'name: required; phone: ...' for an error message."""
    return "; ".join(f"{field}: {', '.join(reasons)}" for field, reasons in sorted(errors.items()))
