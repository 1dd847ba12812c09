"""Server-side render time of the agent's inbox page with 10,000 open tasks.

    .venv/bin/python bench/pages.py [--tasks 10000] [--requests 300] [--backend sqlite|postgresql|both]
                                    [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Starts the instances through the engine (bench/callback.bpmn: one user task offered to the group `bench`,
a tenth of them about one of 50 customers the agent owns, so the page labels them by customer), signs in
an agent of that group with Flask's test client, and times whole requests in-process (session, reach
checks, the task statements, the customer names, Jinja): no network and no browser. Prints median, p95
and max per page shape, in English and in Chinese. PostgreSQL runs on a throw-away database.
"""
import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import load_settings  # noqa: E402
from engine.customers import customers  # noqa: E402
from engine.identity import IdentityStore  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402

BPMN = ROOT / "bench" / "callback.bpmn"
SHAPES = [("inbox, everything I can see", "/inbox"), ("inbox, unassigned", "/inbox?scope=unassigned"),
          ("inbox, page 100", "/inbox?page=100"), ("inbox, one process", "/inbox?process=api_bench"),
          ("inbox, one customer by name", "/inbox?customer=Bench%20customer%207")]


def seed(engine, count):
    engine.deploy([(BPMN.name, BPMN.read_bytes())], actor="bench")
    identity = IdentityStore(engine.db)
    identity.add_user("agent", "agent", ["bench"], "Bench agent")
    identity.set_password("agent", "bench-password")
    owned = [customers.create_customer(engine, {"name": f"Bench customer {n}", "owner": "agent", "team": "bench"},
                                       actor="bench")[0]["id"] for n in range(50)]
    started = time.perf_counter()
    for n in range(count):
        key = str(owned[(n // 10) % 50]) if n % 10 == 0 else f"B-{n}"
        engine.start("api_bench", key, {}, actor="bench")
        if (n + 1) % 2000 == 0:
            print(f"  {n + 1} tasks ({time.perf_counter() - started:.0f} s)", file=sys.stderr)


def measure(engine, requests):
    from api import create_app

    logging.getLogger("followup.access").disabled = True
    app = create_app(engine)
    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/signin", data={"csrf_token": token, "username": "agent",
                                        "password": "bench-password"}).status_code == 302
    rows = []
    for language in ("en", "zh-CN"):
        headers = {"Accept-Language": language}
        for label, path in SHAPES:
            for _ in range(20):  # warm caches: statements, templates, catalogs
                response = client.get(path, headers=headers)
            assert response.status_code == 200 and response.get_data().count(b'<li class="task') >= 1, path
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(path, headers=headers).get_data()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            rows.append((f"{label} [{language}]", statistics.median(times), p95, times[-1]))
    return rows


def run(url, data_dir, count, requests):
    engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": data_dir}))
    engine.migrate()
    seed(engine, count)
    try:
        return measure(engine, requests)
    finally:
        engine.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results = {}
    if args.backend in ("sqlite", "both"):
        data_dir = tempfile.mkdtemp()
        print(f"SQLite: starting {args.tasks} instances", file=sys.stderr)
        results["SQLite"] = run(f"sqlite:///{data_dir}/bench.db", data_dir, args.tasks, args.requests)
    if args.backend in ("postgresql", "both"):
        name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        admin = create_db_engine(args.pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            print(f"PostgreSQL: starting {args.tasks} instances", file=sys.stderr)
            results["PostgreSQL"] = run(args.pg_url.rsplit("/", 1)[0] + f"/{name}", tempfile.mkdtemp(), args.tasks,
                                        args.requests)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    print(f"\nInbox page render time, {args.tasks} open tasks, {args.requests} requests each (ms)")
    print(f"{'backend':11} {'page':45} {'median':>7} {'p95':>7} {'max':>7}")
    for backend, rows in results.items():
        for label, median, p95, worst in rows:
            print(f"{backend:11} {label:45} {median:7.2f} {p95:7.2f} {worst:7.2f}")


if __name__ == "__main__":
    main()
