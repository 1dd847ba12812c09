"""Connecting to the database and bringing its schema up to date (Alembic)."""
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from engine import fastjson
from engine.storage.backend import backend_for

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class _SqliteConnection(sa.engine.Connection):
    """Marks the transactions SQLAlchemy begins by itself (a read on a plain connection)."""

    followup_implicit = False

    def _autobegin(self):
        self.followup_implicit = True
        try:
            super()._autobegin()
        finally:
            self.followup_implicit = False


def create_db_engine(url: str, **kwargs) -> sa.Engine:
    """An engine tuned per backend: SQLite in WAL mode with a busy timeout, PostgreSQL with a pool."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("json_deserializer", fastjson.loads)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below take over
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # An explicit `db.begin()` (every write) takes the write lock at once with IMMEDIATE, so two
            # writers queue instead of failing late; a transaction begun implicitly by a read on
            # `db.connect()`, or on a reader (`reader` below), is DEFERRED and never holds it.
            read_only = getattr(conn, "followup_implicit", False) or conn.get_execution_options().get(
                "followup_read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        engine._connection_cls = _SqliteConnection

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # JIT compilation pays off for long analytic queries, never for ours: it turned a 7 ms count over
    # 12,000 tasks into 60 ms.
    kwargs.setdefault("connect_args", {"options": "-c jit=off"})
    kwargs.setdefault("json_deserializer", fastjson.loads)  # every inbox row has two JSON columns
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_recycle", 1800)
    return sa.create_engine(url, **kwargs)


TRANSIENT_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_transient(err: BaseException) -> bool:
    """A database error that the same transaction, tried again, may not meet (PostgreSQL aborted it to
    break a deadlock, say)."""
    return isinstance(err, sa.exc.DBAPIError) and getattr(err.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def retrying(transaction, attempts=3):
    """`transaction()` (which begins and ends its own), tried again when it fails transiently."""
    for attempt in range(attempts):
        try:
            return transaction()
        except sa.exc.DBAPIError as err:
            if not is_transient(err) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (all heads)."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")

_readers = {}


def reader(db):
    """The engine to open read-only connections on: autocommit on PostgreSQL, which saves the BEGIN and
    ROLLBACK round trips of a transaction that only reads (each statement sees committed data). A single
    statement that writes is its own transaction there, atomic as any other (see `Engine.claim_for`).
    On SQLite, a read transaction begins DEFERRED instead of taking the write lock (storage/database.py),
    so reads never queue behind writers or block them."""
    found = _readers.get(id(db))
    if found is None or found[0] is not db:
        found = _readers[id(db)] = (db, db.execution_options(**backend_for(db).reader_options))
    return found[1]
