"""External tasks over /engine-rest against a real server: N workers (each its own process, one kept-alive
HTTP session) loop fetchAndLock (maxTasks at a time) and complete each task with a variable, until every
instance is done. Prints external tasks completed per second.

    .venv/bin/python bench/external_tasks.py [--workers 4] [--instances 2000] [--max-tasks 10]
                                             [--server-workers 2] [--threads 4] [--sqlite]
                                             [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Instances (bench/external_task.bpmn: start, one external task, end) are started through the engine before
the clock starts; the timed part is only fetch-and-lock and complete over HTTP, as Camunda's worker
clients do it. PostgreSQL by default (a throw-away database); `--sqlite` uses a temporary SQLite file.
"""
import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import load_settings  # noqa: E402
from engine.identity import IdentityStore  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402

BPMN = ROOT / "bench" / "external_task.bpmn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url, port, workers, threads, log_path):
    env = {**os.environ, "DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-w", str(workers), "-k", "gthread", "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--keep-alive", "30", "api.wsgi:app"]
    log = open(log_path, "wb")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn did not start; see {log_path}")


def worker(index, base, token, max_tasks, results):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    worker_id, done, errors = f"bench-{index}", 0, 0
    body = {"workerId": worker_id, "maxTasks": max_tasks, "usePriority": True,
            "topics": [{"topicName": "bench-work", "lockDuration": 60000}]}
    while True:
        tasks = session.post(f"{base}/external-task/fetchAndLock", json=body).json()
        if not tasks:
            break
        for task in tasks:
            response = session.post(f"{base}/external-task/{task['id']}/complete", json={
                "workerId": worker_id, "variables": {"result": {"value": index, "type": "Integer"}}})
            if response.status_code == 204:
                done += 1
            else:
                errors += 1
    results.put((done, errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--max-tasks", type=int, default=10)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    admin, name = None, None
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    else:
        name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        admin = create_db_engine(args.pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = args.pg_url.rsplit("/", 1)[0] + f"/{name}"
    server = None
    try:
        engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}))
        engine.migrate()
        engine.deploy([(BPMN.name, BPMN.read_bytes())])
        identity = IdentityStore(engine.db)
        identity.add_user("bench-worker", "supervisor", ["ops"])
        token = identity.issue_token("bench-worker")[1]
        for n in range(args.instances):
            engine.start("external_bench", f"E-{n}", {"n": n}, actor="bench")
        port = free_port()
        log_path = Path(tempfile.mkdtemp()) / "gunicorn.log"
        server = start_server(url, port, args.server_workers, args.threads, log_path)
        base = f"http://127.0.0.1:{port}/engine-rest"
        results = multiprocessing.Queue()
        processes = [multiprocessing.Process(target=worker, args=(i, base, token, args.max_tasks, results))
                     for i in range(args.workers)]
        started = time.perf_counter()
        for p in processes:
            p.start()
        outcomes = [results.get() for _ in processes]
        elapsed = time.perf_counter() - started
        for p in processes:
            p.join()
        done = sum(o[0] for o in outcomes)
        errors = sum(o[1] for o in outcomes)
        left = len(engine.list_external_tasks(None, limit=100000))
        backend = "SQLite" if args.sqlite else "PostgreSQL"
        print(f"{backend}, gunicorn {args.server_workers}x{args.threads} threads, {args.workers} workers, "
              f"maxTasks {args.max_tasks}: {done} external tasks completed in {elapsed:.1f} s = "
              f"{done / elapsed:.0f}/s ({errors} refused, {left} left open)")
        engine.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
