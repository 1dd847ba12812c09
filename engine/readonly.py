"""Connections without transaction round trips: for reads, and for a write that is one statement."""

_readers = {}


def reader(db):
    """The engine to open read-only connections on: autocommit on PostgreSQL, which saves the BEGIN and
    ROLLBACK round trips of a transaction that only reads (each statement sees committed data). A single
    statement that writes is its own transaction there, atomic as any other (see `Engine.claim_for`).
    On SQLite, a read transaction begins DEFERRED instead of taking the write lock (storage/database.py),
    so reads never queue behind writers or block them."""
    found = _readers.get(id(db))
    if found is None or found[0] is not db:
        options = ({"isolation_level": "AUTOCOMMIT"} if db.dialect.name == "postgresql"
                   else {"followup_read_only": True})
        found = _readers[id(db)] = (db, db.execution_options(**options))
    return found[1]
