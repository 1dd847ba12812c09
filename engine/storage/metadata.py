"""The one MetaData every table of Followup is declared on (runtime, customer hub, SOP operations), with
its naming convention, and the column type for moments in time.

Alembic migrations in `migrations/` create the tables; this metadata (gathered by `engine/tables.py`) is
what they are checked against (tests/test_migrations.py), never `create_all` in a production path.
"""
from datetime import timezone

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

class UtcDateTime(sa.types.TypeDecorator):
    """A moment in UTC, time-zone aware on the way out on every backend: PostgreSQL keeps the offset,
    SQLite keeps none (stored as naive UTC, read back as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and dialect.name == "sqlite" and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    # PostgreSQL's timestamptz needs neither conversion: no Python call per value (an inbox page has 60).
    def bind_processor(self, dialect):
        if dialect.name == "postgresql":
            return self.impl_instance.bind_processor(dialect)
        return super().bind_processor(dialect)

    def result_processor(self, dialect, coltype):
        if dialect.name == "postgresql":
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)
