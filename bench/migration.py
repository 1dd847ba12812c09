"""Migrating running instances to a new version: seed N instances waiting at a user task (with a
boundary timer) on version 1, deploy version 2 (a step added after the token), then time the dry run and
the migration batch (each instance in its own transaction), on a throw-away PostgreSQL database.

    .venv/bin/python bench/migration.py [--instances 10000] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
"""
import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import load_settings  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402

V1 = ROOT / "tests" / "bpmn" / "migration" / "v1.bpmn"
V2 = ROOT / "tests" / "bpmn" / "migration" / "added_after.bpmn"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"followup_bench_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(args.pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = args.pg_url.rsplit("/", 1)[0] + f"/{name}"
        engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}))
        engine.migrate()
        engine.deploy([(V1.name, V1.read_bytes())])
        t0 = time.perf_counter()
        for i in range(args.instances):
            engine.start("review_flow", f"bench-{i}")
        print(f"seeded {args.instances} waiting instances on v1 in {time.perf_counter() - t0:.1f} s")
        engine.deploy([(V2.name, V2.read_bytes())])

        t0 = time.perf_counter()
        plan = engine.plan_migration("review_flow", 2)
        dry = time.perf_counter() - t0
        print(f"dry run: {plan['can_migrate']} of {plan['total']} can move, {dry:.1f} s "
              f"({dry / max(plan['total'], 1) * 1000:.2f} ms per instance)")

        batch = engine.migrations.start("review_flow", 2, queued=False)
        t0 = time.perf_counter()
        done = engine.migrations.run(batch["id"])
        took = time.perf_counter() - t0
        print(f"migration: {done['migrated']} moved, {done['skipped']} left, {took:.1f} s "
              f"({done['migrated'] / took:.0f} instances/s, {took / max(done['total'], 1) * 1000:.2f} ms each)")
        engine.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
