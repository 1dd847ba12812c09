"""Settings read from the environment, with the embedded defaults used when a variable is unset."""
import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo


class SettingError(ValueError):
    """A setting in the environment that cannot be used; its message names the variable."""


def parse_number(name, value, kind, zero_ok=False):
    """`value` (text) as the number setting `name` takes (`kind`: int or float); anything else stops the
    start with an error naming the setting: a setting typed wrong must not become some other value."""
    try:
        parsed = kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingError(f"{name} must be {what}, not {value!r}") from None
    if parsed < 0 or (parsed == 0 and not zero_ok):
        raise SettingError(f"{name} must be greater than 0, not {value!r}")
    return parsed


def env_number(env, name, kind, default, zero_ok=False):
    """The number environment variable `name` holds, or `default` when it is unset or empty."""
    value = env.get(name)
    if value is None or not str(value).strip():
        return default
    return parse_number(name, value, kind, zero_ok)


def env_numbers(env, fields: dict) -> dict:
    """Keyword arguments of a settings dataclass from the variables that are set:
    {field: (variable, int or float)} -> {field: number}; the dataclass's defaults stand for the rest."""
    found = {field: env_number(env, name, kind, None) for field, (name, kind) in fields.items()}
    return {field: value for field, value in found.items() if value is not None}


@dataclass(frozen=True)
class Limits:
    """What one change (a start, a completion, a timer, a message) may cost, whatever the diagram does.
    Past a limit the change stops and the instance gets an incident naming the element (README, "Limits")."""
    script_seconds: float = 5.0        # one script or expression (FOLLOWUP_SCRIPT_SECONDS)
    max_steps: int = 10_000            # automatic tasks run in one change (FOLLOWUP_MAX_STEPS)
    max_cardinality: int = 1_000       # instances of one multi-instance activity (FOLLOWUP_MAX_CARDINALITY)
    min_timer_cycle_seconds: float = 60.0  # the shortest interval of a timer cycle (FOLLOWUP_MIN_TIMER_CYCLE_SECONDS)
    max_sequence: int = 10_000_000     # items in a text, list or range a script builds in one operation
    max_int_bits: int = 100_000        # size of a whole number a script computes (about 30,000 digits)
    max_value_depth: int = 32          # nesting of a variable's value (lists in objects in lists...)
    max_stored_values: int = 100_000   # values (list items, object fields) a change may leave in a task's data
    import_background_rows: int = 2_000  # a customer import of more rows runs in the background (FOLLOWUP_IMPORT_BACKGROUND_ROWS)

    @classmethod
    def from_environ(cls, env) -> "Limits":
        return cls(**env_numbers(env, {
            "script_seconds": ("FOLLOWUP_SCRIPT_SECONDS", float),
            "max_steps": ("FOLLOWUP_MAX_STEPS", int),
            "max_cardinality": ("FOLLOWUP_MAX_CARDINALITY", int),
            "min_timer_cycle_seconds": ("FOLLOWUP_MIN_TIMER_CYCLE_SECONDS", float),
            "import_background_rows": ("FOLLOWUP_IMPORT_BACKGROUND_ROWS", int)}))


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    data_dir: Path
    timezone: ZoneInfo
    limits: Limits = field(default_factory=Limits)
    # FOLLOWUP_HIDDEN_VARIABLES (comma-separated): variable names hidden like money fields (access.py),
    # besides the money fields of the record kinds (amount, budget)
    hidden_variables: frozenset = frozenset()

    @property
    def embedded(self) -> bool:
        """True when timers run in-process because no Redis is configured."""
        return not self.redis_url


def load_settings(environ=None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("FOLLOWUP_DATA_DIR") or "data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'followup.db'}"
    return Settings(
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        data_dir=data_dir,
        timezone=ZoneInfo(env.get("FOLLOWUP_TIMEZONE") or "Asia/Shanghai"),
        limits=Limits.from_environ(env),
        hidden_variables=frozenset(n.strip() for n in (env.get("FOLLOWUP_HIDDEN_VARIABLES") or "").split(",")
                                   if n.strip()),
    )
