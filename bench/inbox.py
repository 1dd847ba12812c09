"""The inbox at 10,000, 100,000 and 1,000,000 open tasks on PostgreSQL: p50/p95/p99 per listing variant.

    .venv/bin/python bench/inbox.py [--sizes 10000,100000,1000000] [--requests 200] [--writes 0]
                                    [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep NAME]

Seeds a throw-away database (followup_inbox_<random>, dropped at the end unless --keep) through the same
tables and triggers the engine writes (COPY into instances, human_tasks and human_task_groups, in chunks
of 50,000 rows, one transaction each): 50 groups, 4 agents each (200), 10 supervisors of 5 groups each,
10 processes, a tenth of the tasks offered to two groups (a team and the next one), 30% assigned to an agent of their group, due
dates spread over +-30 days (5% none), 200,000 customers as business keys. It then compacts the counts
tables (VACUUM FULL: see `vacuum`) and VACUUM ANALYZEs (a steady state autovacuum reaches), checks task_counts (and every other table the triggers keep) against a
plain count, and times whole GET /api/tasks requests in-process with Flask's test client (token
authentication, reach, the statements, the customer names, JSON): an agent of one group among 50 and a
supervisor of 5 groups, one client, `--requests` per variant after 20 to warm up. The sizes grow one
database: each size adds tasks to the previous one.

--writes N: afterwards, N task writes (claim and release of 1,000 tasks, in turn), each its own
transaction sent by this client, with autovacuum as configured; prints the size of the counts tables
before and after (pg_total_relation_size), then again after a minute's rest.
"""
import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import load_settings  # noqa: E402
from engine.identity import IdentityStore  # noqa: E402
from engine.runtime import Engine  # noqa: E402

GROUPS = [f"team{g:02d}" for g in range(50)]
AGENTS = {f"agent{g:02d}_{k}": GROUPS[g] for g in range(50) for k in range(4)}
SUPERVISORS = {f"boss{s}": GROUPS[5 * s:5 * s + 5] for s in range(10)}
PROCESSES = [f"sop_{p:02d}" for p in range(10)]
CUSTOMERS = 200_000
CHUNK = 50_000
COUNTED_TABLES = ("task_counts", "task_due_counts", "task_due_set_counts")


def _copy_text(rows):
    out = io.StringIO()
    for row in rows:
        out.write("\t".join("\\N" if v is None else str(v) for v in row))
        out.write("\n")
    return out.getvalue()


def seed_people(engine):
    identity = IdentityStore(engine.db)
    for name, group in AGENTS.items():
        identity.add_user(name, "agent", [group])
    for name, groups in SUPERVISORS.items():
        identity.add_user(name, "supervisor", groups)
    with engine.db.begin() as conn:
        now = datetime.now(timezone.utc)
        deployment = conn.exec_driver_sql(
            "INSERT INTO deployments (deployed_at, deployed_by) VALUES (%(now)s, 'bench') RETURNING id",
            {"now": now}).scalar_one()
        ids = {}
        for key in PROCESSES:
            ids[key] = conn.exec_driver_sql(
                "INSERT INTO definitions (key, version, name, file_name, content_hash, deployment_id, deployed_at) "
                "VALUES (%(key)s, 1, %(key)s, %(file)s, '0', %(dep)s, %(now)s) RETURNING id",
                {"key": key, "file": f"{key}.bpmn", "dep": deployment, "now": now}).scalar_one()
    return ids


def seed_tasks(engine, definition_ids, start, count, now):
    """`count` open tasks numbered from `start`, deterministic per number, by COPY in chunks."""
    raw = engine.db.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'human_task_groups'")
        present = {r[0] for r in cursor.fetchall()}
        group_columns = [c for c in ("task_id", "group_name", "process_key", "due_at", "created_at") if c in present]
        for first in range(start, start + count, CHUNK):
            rng = random.Random(first)
            instances, tasks, groups = [], [], []
            for n in range(first, min(first + CHUNK, start + count)):
                task_id, instance_id = str(uuid.UUID(int=rng.getrandbits(128))), str(uuid.UUID(int=rng.getrandbits(128)))
                process = PROCESSES[rng.randrange(len(PROCESSES))]
                g = rng.randrange(50)
                offered = [GROUPS[g]] if rng.random() >= 0.1 else sorted({GROUPS[g], GROUPS[(g + 1) % 50]})
                assignee = f"agent{g:02d}_{rng.randrange(4)}" if rng.random() < 0.3 else None
                due = None if rng.random() < 0.05 else now + timedelta(seconds=rng.uniform(-30, 30) * 86400)
                created = now - timedelta(seconds=rng.uniform(0, 60) * 86400)
                key = f"customer:{rng.randrange(CUSTOMERS)}"
                instances.append((instance_id, definition_ids[process], process, key, "user_input", 1, "{}",
                                  "bench", created, created))
                tasks.append((task_id, instance_id, process, key, "call", "Call the customer", None,
                              json.dumps(offered), assignee, "[]", due, created, created if assignee else None,
                              f"Follow-up {n}"))
                values = {"task_id": task_id, "process_key": process, "due_at": due, "created_at": created}
                for group in offered:
                    groups.append(tuple({**values, "group_name": group}[c] for c in group_columns))
            with cursor.copy("COPY instances (id, definition_id, process_key, business_key, status, revision, state, "
                             "started_by, started_at, updated_at) FROM STDIN") as copy:
                copy.write(_copy_text(instances))
            with cursor.copy("COPY human_tasks (id, instance_id, process_key, business_key, element_id, name, lane, "
                             "candidate_groups, assignee, form, due_at, created_at, claimed_at, title) "
                             "FROM STDIN") as copy:
                copy.write(_copy_text(tasks))
            with cursor.copy(f"COPY human_task_groups ({', '.join(group_columns)}) FROM STDIN") as copy:
                copy.write(_copy_text(groups))
            raw.commit()
    finally:
        raw.close()


def vacuum(engine):
    """VACUUM ANALYZE, as autovacuum would reach it; the counts tables compacted first: the bulk load's
    transactions of 50,000 tasks leave each hot counts row in thousands of versions at once, which no
    steady workload of one task per transaction leaves (--writes measures that one)."""
    raw = engine.db.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        cursor = raw.cursor()
        for name in sizes_of(engine):
            cursor.execute(f"VACUUM FULL {name}")
        cursor.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def check_counts(engine):
    """Every counts table the triggers keep against a plain count; raises when one disagrees."""
    with engine.db.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        counted = dict(conn.exec_driver_sql(
            "SELECT process_key || '|' || candidate_groups || '|' || assignee, open_tasks FROM task_counts "
            "WHERE open_tasks <> 0").all())
        actual = dict(conn.exec_driver_sql(
            "SELECT process_key || '|' || candidate_groups::text || '|' || coalesce(assignee, ''), count(*) "
            "FROM human_tasks GROUP BY 1").all())
        assert counted == actual, "task_counts disagrees with human_tasks"
        if "task_due_counts" in tables:
            counted = dict(conn.exec_driver_sql(
                "SELECT candidate_groups || '|' || assignee || '|' || due_day, open_tasks FROM task_due_counts "
                "WHERE open_tasks <> 0").all())
            actual = dict(conn.exec_driver_sql(
                "SELECT candidate_groups::text || '|' || coalesce(assignee, '') || '|' "
                "|| floor(extract(epoch FROM due_at) / 86400)::int, count(*) "
                "FROM human_tasks WHERE due_at IS NOT NULL GROUP BY 1").all())
            assert counted == actual, "task_due_counts disagrees with human_tasks"
        if "task_due_set_counts" in tables:
            counted = dict(conn.exec_driver_sql(
                "SELECT candidate_groups || '|' || due_day, open_tasks FROM task_due_set_counts "
                "WHERE open_tasks <> 0").all())
            actual = dict(conn.exec_driver_sql(
                "SELECT candidate_groups::text || '|' || floor(extract(epoch FROM due_at) / 86400)::int, count(*) "
                "FROM human_tasks WHERE due_at IS NOT NULL GROUP BY 1").all())
            assert counted == actual, "task_due_set_counts disagrees with human_tasks"
        return conn.exec_driver_sql("SELECT count(*) FROM human_tasks").scalar_one()


def variants(engine, who, now):
    """(label, query string) per listing variant a person uses."""
    with engine.db.connect() as conn:  # a customer with a task in reach: one of the person's group's
        groups = [AGENTS[who]] if who in AGENTS else SUPERVISORS[who]
        customer = conn.exec_driver_sql(
            "SELECT t.business_key FROM human_tasks t JOIN human_task_groups g ON g.task_id = t.id "
            "WHERE g.group_name = %(g)s ORDER BY t.id LIMIT 1", {"g": groups[-1]}).scalar_one()
    soon = (now + timedelta(days=2)).isoformat()
    rows = [("all", {}), ("all, total=false", {"total": "false"})]
    rows += [(f"scope {scope}", {"scope": scope}) for scope in ("mine", "group", "unassigned")]
    rows += [(f"scope {scope}, total=false", {"scope": scope, "total": "false"}) for scope in ("group", "unassigned")]
    rows += [("process_key", {"process_key": PROCESSES[3]}),
             ("process_key, total=false", {"process_key": PROCESSES[3], "total": "false"}),
             ("process_key, scope group", {"process_key": PROCESSES[3], "scope": "group"}),
             ("overdue", {"overdue": "true"}),
             ("overdue, total=false", {"overdue": "true", "total": "false"}),
             ("overdue, scope group", {"overdue": "true", "scope": "group"}),
             ("overdue, scope unassigned", {"overdue": "true", "scope": "unassigned"}),
             ("not overdue", {"overdue": "false"}),
             ("due soon (due_before +2d)", {"due_before": soon}),
             ("business_key (a customer)", {"business_key": customer}),
             ("all, page 5", {"page": "5"})]
    return rows


def measure(engine, requests, now):
    import logging
    from api import create_app
    logging.getLogger("followup.access").disabled = True
    app = create_app(engine)
    client = app.test_client()
    identity = IdentityStore(engine.db)
    results = []
    for who, role in (("agent07_0", "agent of 1 group"), ("boss1", "supervisor of 5 groups")):
        headers = {"Authorization": f"Bearer {identity.issue_token(who)[1]}"}
        for label, query in variants(engine, who, now):
            for _ in range(20):
                response = client.get("/api/tasks", query_string=query, headers=headers)
                assert response.status_code == 200, (label, response.get_data(as_text=True))
            total = response.get_json()["total"]
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get("/api/tasks", query_string=query, headers=headers).get_data()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results.append((role, label, statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)],
                            times[max(0, int(len(times) * 0.99) - 1)], total))
    return results


def sizes_of(engine):
    with engine.db.connect() as conn:
        names = [n for n in COUNTED_TABLES if n in sa.inspect(conn).get_table_names()]
        return {n: conn.exec_driver_sql(f"SELECT pg_total_relation_size('{n}')").scalar_one() for n in names}


_WRITE = ("UPDATE human_tasks SET assignee = CASE WHEN assignee IS NULL THEN %(holder)s::text END "
          "WHERE id = %(id)s")


def bloat(engine, writes):
    """`writes` claims and releases of 1,000 tasks in turn, each its own transaction sent by this client,
    which goes idle between them as a real one does (so the server reports its dead rows and autovacuum,
    as configured, sees them: a procedure looping inside the server would hide them until it ends)."""
    with engine.db.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT t.id, t.candidate_groups->>0 FROM human_tasks t WHERE t.assignee IS NULL "
            "ORDER BY t.id LIMIT 1000").all()
    params = [{"id": r[0], "holder": f"{r[1].replace('team', 'agent')}_0"} for r in rows]
    before = sizes_of(engine)
    raw = engine.db.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        cursor = raw.cursor()
        cursor.execute("SET synchronous_commit = off")  # the commits' flushes are not what is measured
        emulate = conn_setting(cursor, "autovacuum") == "off"
        if emulate:
            print("  autovacuum is off on this server: the bench does what it would do for the counts tables "
                  "(every autovacuum_naptime, VACUUM a table whose dead rows passed its threshold)", file=sys.stderr)
        started = last_look = time.perf_counter()
        naptime = float(conn_setting(cursor, "autovacuum_naptime"))
        vacuums = 0
        for n in range(writes):
            cursor.execute(_WRITE, params[n % len(params)], prepare=True)
            if emulate and n % 1000 == 0 and time.perf_counter() - last_look >= naptime:
                last_look = time.perf_counter()
                vacuums += autovacuum_once(cursor, sizes_of(engine))
            if (n + 1) % 200_000 == 0:
                print(f"  {n + 1} writes, {time.perf_counter() - started:.0f} s: " + ", ".join(
                    f"{k} {v / 1e6:.2f} MB" for k, v in sizes_of(engine).items()), file=sys.stderr)
        elapsed = time.perf_counter() - started
        after = sizes_of(engine)
        time.sleep(60)
        rested = sizes_of(engine)
    finally:
        raw.close()
    print(f"\n{writes} task writes (claim/release of 1,000 tasks, one transaction each) in {elapsed:.1f} s "
          f"({writes / elapsed:.0f}/s)" + (f"; autovacuum emulated, {vacuums} VACUUMs" if emulate else ""))
    for name in before:
        print(f"  {name}: {before[name] / 1e6:.2f} MB before, {after[name] / 1e6:.2f} MB after, "
              f"{rested[name] / 1e6:.2f} MB a minute later")
    check_counts(engine)


def conn_setting(cursor, name):
    """A server setting in its base unit (seconds for autovacuum_naptime)."""
    cursor.execute("SELECT setting FROM pg_settings WHERE name = %s", (name,))
    return cursor.fetchone()[0]


def autovacuum_once(cursor, tables):
    """What one autovacuum round would do to `tables`: VACUUM each whose dead rows passed
    autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * rows (the table's own settings first)."""
    base = float(conn_setting(cursor, "autovacuum_vacuum_threshold"))
    scale = float(conn_setting(cursor, "autovacuum_vacuum_scale_factor"))
    done = 0
    for name in tables:
        cursor.execute("SELECT coalesce(s.n_dead_tup, 0), greatest(c.reltuples, 0), c.reloptions FROM pg_class c "
                       "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = %s", (name,))
        dead, rows, options = cursor.fetchone()
        options = dict(o.split("=", 1) for o in options or [])
        threshold = (float(options.get("autovacuum_vacuum_threshold", base))
                     + float(options.get("autovacuum_vacuum_scale_factor", scale)) * rows)
        if dead > threshold:
            cursor.execute(f"VACUUM {name}")
            done += 1
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--writes", type=int, default=0)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", help="use (or create) this database and keep it")
    args = parser.parse_args()
    name = args.keep or f"followup_inbox_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    engine = Engine(load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}))
    try:
        engine.migrate()
        now = datetime.now(timezone.utc)
        with engine.db.connect() as conn:
            have = conn.exec_driver_sql("SELECT count(*) FROM human_tasks").scalar_one()
            ids = dict(conn.exec_driver_sql("SELECT key, id FROM definitions").all())
        if not ids:
            ids = seed_people(engine)
        print(f"database {name}")
        print("| open tasks | who | variant | p50 ms | p95 ms | p99 ms | total |")
        print("|---|---|---|---|---|---|---|")
        for size in (int(s) for s in args.sizes.split(",")):
            if size > have:
                started = time.perf_counter()
                seed_tasks(engine, ids, have, size - have, now)
                seeded = time.perf_counter() - started
                vacuum(engine)
                print(f"  seeded {size - have} tasks in {seeded:.1f} s (+ VACUUM ANALYZE "
                      f"{time.perf_counter() - started - seeded:.1f} s)", file=sys.stderr)
                have = size
            assert check_counts(engine) == size
            for role, label, p50, p95, p99, total in measure(engine, args.requests, now):
                print(f"| {size:,} | {role} | {label} | {p50:.2f} | {p95:.2f} | {p99:.2f} | {total} |", flush=True)
        if args.writes:
            bloat(engine, args.writes)
    finally:
        engine.close()
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
