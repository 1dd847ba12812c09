"""Engine throughput: start N instances of an SOP and complete all their user tasks through the engine
API with persistence (SQLite and PostgreSQL), next to the same workload run by raw SpiffWorkflow in
memory. Prints instances/s, task completions/s and the ratio persisted/raw.

    .venv/bin/python bench/engine.py [--instances 500] [--bpmn FILE] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs on its own throw-away database. Each completion counts the SQL statements it issues.
"""
import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import load_settings  # noqa: E402
from engine.workflow.parsing import SourceFile, parse_files  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402
from engine.workflow.state import new_workflow  # noqa: E402

DEFAULT_BPMN = ROOT / "tests" / "bpmn" / "first_contact.bpmn"
ANSWERS = {"outcome": "reached", "note": "ok", "budget": 5000, "severity": "low", "satisfaction": 5}


def answers_for(form):
    """Values that fit a task's form: the canned answer per field, else a value of the field's type."""
    values = {}
    for field in form:
        if field["type"] == "enum":
            values[field["id"]] = field["enum"][0]["id"]
        elif field["id"] in ANSWERS:
            values[field["id"]] = ANSWERS[field["id"]]
        elif field["type"] in ("long", "integer"):
            values[field["id"]] = int(field.get("min") or 1)
        elif field["type"] == "boolean":
            values[field["id"]] = True
        elif field["type"] == "date":
            values[field["id"]] = "2026-12-01"
        else:
            values[field["id"]] = "ok"
    return values


def run_raw(source, key, n):
    bundle = parse_files([source])
    spec, subprocess_specs = bundle.spec_for(key)
    from engine.runtime import Engine as _E  # the same sandboxed script engine as the persisted run
    script_engine = _E(load_settings({"DATABASE_URL": "sqlite://"})).script_engine
    completions = 0
    started = time.perf_counter()
    for _ in range(n):
        workflow = new_workflow(spec, subprocess_specs, script_engine)
        workflow.task_tree.data.update({"owner": "li"})
        workflow.do_engine_steps()
        while True:
            ready = workflow.ready_human_tasks()
            if not ready:
                break
            task = ready[0]
            task.data.update(answers_for(getattr(task.task_spec, "form_fields", [])))
            task.run()
            workflow.do_engine_steps()
            completions += 1
    return time.perf_counter() - started, completions


def run_persisted(url, source, key, n):
    engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}))
    engine.migrate()
    engine.deploy([source])
    statements = []
    counter = {"n": 0}

    @event.listens_for(engine.db, "before_cursor_execute")
    def _count(*_args):
        counter["n"] += 1

    latencies = []
    completions = 0
    started = time.perf_counter()
    for i in range(n):
        instance_id = engine.start(key, f"bench-{i}", {"owner": "li"})
        tasks = engine.instance(instance_id)["tasks"]
        while tasks:
            task = tasks[0]
            counter["n"] = 0
            t0 = time.perf_counter()
            engine.complete_task(task["id"], answers_for(task["form"]), actor="li")
            latencies.append(time.perf_counter() - t0)
            statements.append(counter["n"])
            completions += 1
            tasks = engine.instance(instance_id)["tasks"]
    elapsed = time.perf_counter() - started
    # Completions alone (the agent's submit), without the start and the reads around them:
    engine.close()
    return elapsed, completions, latencies, statements


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--bpmn", type=Path, default=DEFAULT_BPMN)
    parser.add_argument("--key", default=None, help="process key (default: the file's first process)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    source = SourceFile(args.bpmn.name, args.bpmn.read_bytes())
    key = args.key or next(iter(parse_files([source]).processes))
    n = args.instances
    print(f"workload: {n} instances of '{key}' ({args.bpmn.name}), every user task completed")

    raw_time, raw_completions = run_raw(source, key, n)
    raw_rate = raw_completions / raw_time
    print(f"raw SpiffWorkflow, in memory : {n / raw_time:8.1f} instances/s  {raw_rate:8.1f} completions/s")

    targets = [("SQLite (WAL)", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    admin = None
    try:
        admin = create_db_engine(args.pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        db_name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
        targets.append(("PostgreSQL", args.pg_url.rsplit("/", 1)[0] + f"/{db_name}"))
    except sa.exc.OperationalError:
        print("PostgreSQL not reachable: skipped")
    try:
        for label, url in targets:
            elapsed, completions, latencies, statements = run_persisted(url, source, key, n)
            busy = sum(latencies)
            rate = completions / busy
            print(f"persisted, {label:13}: {n / elapsed:8.1f} instances/s (start+complete+read, end to end)  "
                  f"{rate:8.1f} completions/s  (p50 {statistics.median(latencies) * 1000:.2f} ms, "
                  f"{statistics.mean(statements):.1f} SQL statements each)  ratio to raw {rate / raw_rate:.2f}")
    finally:
        if admin is not None and len(targets) > 1:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
