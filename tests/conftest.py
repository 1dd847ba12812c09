"""Shared fixtures: a real database per test run (PostgreSQL when it is there, and always in CI), an
Engine on it with tables emptied after each test, and a Redis database for worker tests.

Environment: TEST_DATABASE_URL (a PostgreSQL server URL to create the run's database on, default
postgresql://postgres@127.0.0.1:5432/postgres), TEST_REDIS_URL (default redis://127.0.0.1:6379/9),
FOLLOWUP_TEST_BACKEND=sqlite to run on SQLite only. With CI=true a missing server fails the run.
"""
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import clock
from engine.config import load_settings
from engine.runtime import Engine
from engine.storage.database import create_db_engine

HERE = Path(__file__).parent
BPMN_DIR = HERE / "bpmn"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _postgres_available():
    if os.environ.get("FOLLOWUP_TEST_BACKEND") == "sqlite":
        return False
    try:
        probe = create_db_engine(PG_SERVER_URL, poolclass=sa.pool.NullPool)
        with probe.connect():
            pass
        probe.dispose()
        return True
    except sa.exc.OperationalError:
        if IN_CI:
            pytest.exit(f"CI=true but PostgreSQL is not reachable at {PG_SERVER_URL}", returncode=3)
        return False


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable (set CI=true to make this an error)")
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'followup.db'}"


def _make_engine(url, tmp_path_factory):
    settings = load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": str(tmp_path_factory.mktemp("data")),
                              "FOLLOWUP_TIMEZONE": "Asia/Shanghai"})
    engine = Engine(settings)
    engine.migrate()
    return engine


def _empty_tables(engine):
    """Empty every table the migrations made (whichever module declares it)."""
    with engine.db.begin() as conn:
        names = [n for n in sa.inspect(conn).get_table_names() if n != "alembic_version"]
        if engine.db.dialect.name == "postgresql":
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for name in names:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture(scope="session")
def _pg_engine(postgres_url, tmp_path_factory):
    engine = _make_engine(postgres_url, tmp_path_factory)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def _sqlite_engine(sqlite_url, tmp_path_factory):
    engine = _make_engine(sqlite_url, tmp_path_factory)
    yield engine
    engine.close()


def open_task_count_mismatches(engine):
    """Rows where task_counts (kept by triggers) disagrees with a count of human_tasks: [] when right."""
    groups = "candidate_groups::text" if engine.db.dialect.name == "postgresql" else "candidate_groups"
    with engine.db.connect() as conn:
        counted = {(r[0], r[1], r[2]): r[3] for r in conn.exec_driver_sql(
            "SELECT process_key, candidate_groups, assignee, open_tasks FROM task_counts WHERE open_tasks <> 0")}
        actual = {(r[0], r[1], r[2]): r[3] for r in conn.exec_driver_sql(
            f"SELECT process_key, {groups}, coalesce(assignee, ''), count(*) FROM human_tasks "
            f"GROUP BY process_key, {groups}, coalesce(assignee, '')")}
    return sorted((key, counted.get(key, 0), actual.get(key, 0))
                  for key in counted.keys() | actual.keys() if counted.get(key, 0) != actual.get(key, 0))


def due_count_mismatches(engine):
    """Rows where task_due_counts (kept by triggers) disagrees with a count of human_tasks by candidate
    groups, assignee and UTC day of the due time (task_due_set_counts, by candidate groups and day, as
    assignee '*'), and task groups whose copy of their task's process, due time or creation time differs
    from the task's: [] when right."""
    postgresql = engine.db.dialect.name == "postgresql"
    groups = "candidate_groups::text" if postgresql else "candidate_groups"
    day = ("floor(extract(epoch FROM due_at) / 86400)::int" if postgresql
           else "CAST(strftime('%s', due_at) AS INTEGER) / 86400")
    with engine.db.connect() as conn:
        counted = {(r[0], r[1], r[2]): r[3] for r in conn.exec_driver_sql(
            "SELECT candidate_groups, assignee, due_day, open_tasks FROM task_due_counts")}
        actual = {(r[0], r[1], r[2]): r[3] for r in conn.exec_driver_sql(
            f"SELECT {groups}, coalesce(assignee, ''), {day}, count(*) FROM human_tasks WHERE due_at IS NOT NULL "
            f"GROUP BY {groups}, coalesce(assignee, ''), {day}")}
        if "task_due_set_counts" in sa.inspect(conn).get_table_names():  # migration 0014, by set: assignee '*'
            counted.update({(r[0], "*", r[1]): r[2] for r in conn.exec_driver_sql(
                "SELECT candidate_groups, due_day, open_tasks FROM task_due_set_counts")})
            actual.update({(r[0], "*", r[1]): r[2] for r in conn.exec_driver_sql(
                f"SELECT {groups}, {day}, count(*) FROM human_tasks WHERE due_at IS NOT NULL "
                f"GROUP BY {groups}, {day}")})
        copies = conn.exec_driver_sql(
            "SELECT g.task_id, g.group_name FROM human_task_groups g JOIN human_tasks t ON t.id = g.task_id "
            "WHERE g.process_key IS NOT t.process_key OR g.due_at IS NOT t.due_at OR g.created_at IS NOT t.created_at"
            if not postgresql else
            "SELECT g.task_id, g.group_name FROM human_task_groups g JOIN human_tasks t ON t.id = g.task_id "
            "WHERE g.process_key IS DISTINCT FROM t.process_key OR g.due_at IS DISTINCT FROM t.due_at "
            "OR g.created_at IS DISTINCT FROM t.created_at").all()
    return sorted((key, counted.get(key, 0), actual.get(key, 0))
                  for key in counted.keys() | actual.keys() if counted.get(key, 0) != actual.get(key, 0)) + [
        ("human_task_groups", tuple(r)) for r in copies]


def _backend_engine(request, backend):
    engine = request.getfixturevalue("_pg_engine" if backend == "postgresql" else "_sqlite_engine")
    clock.reset()
    yield engine
    clock.reset()
    # Every test that touched tasks also checks the counts behind inbox totals: (key, counted, actual).
    mismatches = open_task_count_mismatches(engine)
    due_mismatches = due_count_mismatches(engine)
    _empty_tables(engine)
    engine.definitions.clear_caches()
    assert mismatches == [], "task_counts disagrees with human_tasks"
    assert due_mismatches == [], "task_due_counts or human_task_groups disagrees with human_tasks"


@pytest.fixture
def engine(request):
    """The main backend: PostgreSQL when reachable (always in CI), else SQLite."""
    backend = "postgresql" if _postgres_available() else "sqlite"
    yield from _backend_engine(request, backend)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine_each(request):
    """Runs the test once on each backend."""
    if request.param == "postgresql" and not _postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    yield from _backend_engine(request, request.param)


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if IN_CI:
            pytest.exit(f"CI=true but Redis is not reachable at {REDIS_URL}", returncode=3)
        pytest.skip("Redis is not reachable")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


def bpmn_file(name):
    """(name, bytes) of a test diagram in tests/bpmn/."""
    path = BPMN_DIR / name
    return (path.name, path.read_bytes())


@pytest.fixture
def deploy(engine):
    def _deploy(*names):
        return engine.deploy([bpmn_file(n) for n in names])
    return _deploy
