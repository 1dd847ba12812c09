"""What differs between PostgreSQL and SQLite, decided once per database (like rq/timeouts.py picks a
death penalty once, and viewflow's flow picks its lock): everyone else asks the `Backend`, nobody asks
`dialect.name`.

- `one_statement_save`: an instance's save (update, audit, deletes, a completed task's delete) rides as
  CTEs on one statement, and a claim is one UPDATE ... RETURNING with its audit row (PostgreSQL);
- `checks_under_lock`: an access check may read other rows while the instance is locked (PostgreSQL;
  SQLite has one writer, and a second connection would wait for it);
- `delete_by_ids(table)`: DELETE by a list of ids in one statement text (`= ANY(array)` on PostgreSQL, an
  expanding IN elsewhere), bound as `ids`;
- `insert_ignore(table)`: INSERT ... ON CONFLICT DO NOTHING in the database's own dialect;
- `reader_options`: execution options of read-only connections (autocommit on PostgreSQL; a DEFERRED
  read transaction on SQLite, see database.py);
- `planned_once(conn)`: statements run within it reuse one plan per prepared statement (PostgreSQL);
- `pause_between_writes`: a long job's pause after each of its transactions (SQLite's one writer).
"""
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


@dataclass(frozen=True)
class Backend:
    name: str

    @property
    def postgresql(self) -> bool:
        return self.name == "postgresql"

    @property
    def one_statement_save(self) -> bool:
        return self.postgresql

    @property
    def checks_under_lock(self) -> bool:
        return self.postgresql

    @property
    def reuses_deleted_ids(self) -> bool:
        """SQLite hands out max(id) + 1, so ids deleted at the top (a reverted import) come back; whoever
        must never reuse one (a customer id names its history) picks the id itself."""
        return not self.postgresql

    @property
    def pause_between_writes(self) -> float:
        """Seconds a long job (a background import) waits after each of its write transactions, so that
        other writers get their turn: SQLite has one writer, and a job that starts its next transaction at
        once wins the lock again and again, while a timer's firing, polling for it, waits to the job's end
        (PostgreSQL: none needed)."""
        return 0.0 if self.postgresql else 0.1

    @property
    def reader_options(self) -> dict:
        return {"isolation_level": "AUTOCOMMIT"} if self.postgresql else {"followup_read_only": True}

    @contextmanager
    def planned_once(self, conn):
        """Within it, a statement psycopg has prepared (the fifth run of one text on a connection) runs on
        the generic plan PostgreSQL made once, not on a custom plan made again at every run. PostgreSQL's
        own choice ("auto") keeps custom plans for the inbox's statements, whose generic cost it guesses
        higher (a due-time bound it cannot see), and planning them took 2-3 ms of a supervisor's 6-9 ms
        at 1,000,000 open tasks (bench/inbox.py). Their only parameters are times, filter values, offset
        and limit; reach is written into the statement, so one plan fits every run (PostgreSQL makes it
        again once ANALYZE has changed what it knows of a table). Without a value for the limit, a generic
        plan expects a tenth of a group's tasks and gathered them with parallel workers (5 ms to start
        them, for 50 rows): no parallel workers within it either. One round trip each way (~0.1 ms
        together on an autocommit reader); nothing on SQLite."""
        if not self.postgresql:
            yield conn
            return
        conn.exec_driver_sql("SELECT set_config('plan_cache_mode', 'force_generic_plan', false), "
                             "set_config('max_parallel_workers_per_gather', '0', false)")
        try:
            yield conn
        finally:
            # Two statements without parameters: psycopg sends them as one simple query (pg_settings'
            # reset_val costs 0.5 ms, a view over every setting).
            conn.exec_driver_sql("RESET plan_cache_mode; RESET max_parallel_workers_per_gather")

    def delete_by_ids(self, table, param="ids"):
        if self.postgresql:  # one statement text whatever the number of ids (an expanding IN is re-rendered)
            return table.delete().where(table.c.id == sa.any_(sa.bindparam(param, type_=postgresql.ARRAY(table.c.id.type))))
        return table.delete().where(table.c.id.in_(sa.bindparam(param, expanding=True)))

    def insert_ignore(self, table, **values):
        insert = postgresql.insert if self.postgresql else sqlite.insert
        return insert(table).values(**values).on_conflict_do_nothing()


_backends = {}


def backend_for(bind) -> Backend:
    """The Backend of a SQLAlchemy Engine or Connection."""
    name = bind.dialect.name
    found = _backends.get(name)
    if found is None:
        found = _backends[name] = Backend(name)
    return found
