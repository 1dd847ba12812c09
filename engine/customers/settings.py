"""Hub settings (pool rules, check-in limits): defaults in `defaults.SETTINGS`, overrides in the database."""
import sqlalchemy as sa

from engine import clock
from engine.errors import InvalidInput

from engine.customers.defaults import SETTINGS
from engine.customers.schema import customer_settings


def get_settings(conn) -> dict:
    values = dict(SETTINGS)
    for row in conn.execute(sa.select(customer_settings)):
        values[row.key] = row.value
    return values


def current(engine) -> dict:
    """The settings in force, on a connection of its own (what the API shows)."""
    with engine.db.connect() as conn:
        return get_settings(conn)


def set_setting(engine, key, value, actor=None):
    """An admin's change of one setting (only known keys)."""
    if key not in SETTINGS:
        raise InvalidInput(f"unknown setting '{key}'", {key: [f"known settings: {', '.join(sorted(SETTINGS))}"]})
    default = SETTINGS[key]
    if isinstance(default, bool) and not isinstance(value, bool) or \
            isinstance(default, int) and not isinstance(default, bool) and (not isinstance(value, int) or value < 0):
        raise InvalidInput(f"setting '{key}' takes a value like {default!r}", {key: [f"not a valid value: {value!r}"]})
    now = clock.now()
    with engine.db.begin() as conn:
        done = conn.execute(customer_settings.update().where(customer_settings.c.key == key)
                            .values(value=value, updated_at=now, updated_by=actor))
        if done.rowcount == 0:
            conn.execute(customer_settings.insert().values(key=key, value=value, updated_at=now, updated_by=actor))
    return value
