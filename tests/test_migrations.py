"""The migrations build exactly the tables the code declares, on both backends: a column added to the
code without a migration (or the reverse) fails here, not in production."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.tables import metadata


def _relevant(diff):
    kind = diff[0][0] if isinstance(diff[0], tuple) else diff[0]
    # Server defaults and type spellings are compared loosely by Alembic; tables, columns, indexes are not.
    return kind in ("add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index",
                    "add_fk", "remove_fk", "modify_nullable")


def test_the_migrated_schema_matches_the_declared_tables(engine_each):
    with engine_each.db.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    problems = [d for d in diffs if _relevant(d)]
    assert problems == []


def test_migrating_twice_changes_nothing(engine_each):
    engine_each.migrate()
    with engine_each.db.connect() as conn:
        assert [d for d in compare_metadata(MigrationContext.configure(conn), metadata) if _relevant(d)] == []


def test_instance_states_are_stored_with_lz4_on_postgresql(engine, deploy):
    """Migration 0015: a state written after it is compressed with lz4 (faster than pglz at every save and
    load); SQLite does not compress."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite does not compress")
    deploy("first_contact.bpmn")
    instance_id = engine.start("first_contact", "lz4-probe", {"owner": "li"})
    with engine.db.connect() as conn:
        method = conn.exec_driver_sql("SELECT pg_column_compression(state) FROM instances WHERE id = %(id)s",
                                      {"id": instance_id}).scalar()
    assert method == "lz4"
