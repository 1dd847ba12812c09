"""Import bench: 10,000 customer rows from an .xlsx file, dry run then real import (and with
--background, the same file again as a background job: queued, then run a chunk per transaction).

    .venv/bin/python bench/import.py [--rows 10000] [--database-url URL] [--background]

Default database: a fresh PostgreSQL database on 127.0.0.1 (dropped afterwards); prints rows/s.
"""
import argparse
import io
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import load_settings  # noqa: E402
from engine.customers.normalize import credit_check_char, CREDIT_CHARS  # noqa: E402
from engine.customers.importer import import_customers  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402


def credit_code(rng):
    first = "91" + "".join(rng.choice("0123456789") for _ in range(6)) + \
        "".join(rng.choice(CREDIT_CHARS) for _ in range(9))
    return first + credit_check_char(first)


def workbook(rows, rng):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["客户名称", "统一社会信用代码", "联系电话", "客户级别", "地区", "行业", "客户来源", "地址", "负责人"])
    for i in range(rows):
        sheet.append([f"测试{i}号科技有限公司", credit_code(rng), f"13{rng.randint(0, 999999999):09d}",
                      rng.choice("ABC"), rng.choice(["广东省", "浙江省", "北京市"]), rng.choice(["制造业", "I65"]),
                      rng.choice(["展会", "官网"]), f"某某路{i}号", rng.choice(["li", "wang", ""])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--background", action="store_true", help="also time the background job")
    args = parser.parse_args()
    server = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"followup_bench_{uuid.uuid4().hex[:8]}"
    admin = None
    url = args.database_url
    if url is None:
        admin = create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": data_dir}))
            engine.migrate()
            from engine.customers.vocab import seed_defaults
            from engine import clock
            from engine.storage.schema import users
            seed_defaults(engine)
            with engine.db.begin() as conn:
                conn.execute(users.insert(), [dict(name=n, role="agent", created_at=clock.now()) for n in ("li", "wang")])
            data = workbook(args.rows, random.Random(5))
            for dry_run in (True, False):
                started = time.perf_counter()
                report = import_customers(engine, data, mode="create", dry_run=dry_run, actor="bench",
                                          file_name="bench.xlsx")
                elapsed = time.perf_counter() - started
                label = "dry run" if dry_run else "import "
                print(f"{label}: {args.rows} rows in {elapsed:.2f} s = {args.rows / elapsed:,.0f} rows/s "
                      f"(created {report['created']}, bad {report['failed']})")
            if args.background:  # into emptied customer tables, as the job would run it
                from engine.customers.importer import revert_import
                revert_import(engine, report["batch_id"], "bench")
                engine.identity.add_user("bench", "admin")
                started = time.perf_counter()
                batch = engine.imports.queue(data, "bench.xlsx", actor="bench")
                queued = time.perf_counter() - started
                [(batch_id, job_id)] = engine.imports.claim_queued()
                done = engine.run_import(batch_id, job_id)
                elapsed = time.perf_counter() - started
                print(f"background: queued in {queued * 1000:.0f} ms; {args.rows} rows in {elapsed:.2f} s = "
                      f"{args.rows / elapsed:,.0f} rows/s ({done['status']}, created {done['summary']['created']}, "
                      f"batch {batch['id']})")
            engine.close()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
