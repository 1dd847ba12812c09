"""Timer benchmark: 100,000 waiting instances with pending timers, 10,000 of them due at once.

Builds its own PostgreSQL database (dropped at the end) by cloning one real started instance of
tests/bpmn/first_contact.bpmn (a call with an interrupting 2-hour boundary timer that escalates):
every clone gets fresh task ids; 90,000 wait 2 hours, 10,000 have a due timer. Then, for 1 and for 2
workers (real `followup scheduler` + `followup worker` processes on Redis db 10), makes the 10,000 due
at the same instant and measures until every one has fired (audit events `timer_fired`):
the time from due to the last firing, fired/s, and the p50/p99 lag between due time and firing.
Also the scheduler's cost per tick (nothing due / 1,000 due) with 1,000 and with 100,000 pending.

    .venv/bin/python bench/timers.py [--pending 100000] [--due 10000] [--workers 1,2]
Needs PostgreSQL (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/10, flushed).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from engine import clock  # noqa: E402
from engine.config import load_settings  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.background.timers import TimerPolicy, claim_due, sweep  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402
from engine.storage.schema import audit_events, human_task_groups, human_tasks, instances, timers  # noqa: E402

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAST = "2020-01-01T00:00:00+00:00"


def log(*args):
    print(*args, flush=True)


class Template:
    """One real started instance, ready to be cloned with fresh task ids."""

    def __init__(self, engine):
        engine.deploy([("first_contact.bpmn", (ROOT / "tests/bpmn/first_contact.bpmn").read_bytes())])
        iid = engine.start("first_contact", "B-0", {"owner": "li"})
        with engine.db.connect() as conn:
            self.instance = dict(conn.execute(sa.select(instances).where(instances.c.id == iid)).one()._mapping)
            self.task = dict(conn.execute(sa.select(human_tasks).where(human_tasks.c.instance_id == iid)).one()._mapping)
            self.groups = [r.group_name for r in conn.execute(sa.select(human_task_groups.c.group_name).where(
                human_task_groups.c.task_id == self.task["id"]))]
            self.timer = dict(conn.execute(sa.select(timers).where(timers.c.instance_id == iid)).one()._mapping)
        state = json.loads(self.instance["state"])
        self.task_ids = sorted(set(UUID_RE.findall(self.instance["state"])))
        value = self._event_value(state)
        self.state_later = self.instance["state"]
        self.state_due = self.instance["state"].replace(value, PAST)
        self.template_id = iid
        log(f"template instance: {len(self.instance['state'])} bytes of state, {len(self.task_ids)} task ids")

    def _event_value(self, state):
        for task in state["tasks"].values():
            value = task.get("internal_data", {}).get("event_value")
            if value:
                return value
        raise RuntimeError("the template has no waiting timer")

    def clone(self, due):
        mapping = {old: str(uuid.uuid4()) for old in self.task_ids}
        state = UUID_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), self.state_due if due else self.state_later)
        return str(uuid.uuid4()), state, mapping[self.task["id"]], mapping[self.timer["id"]]


def copy_rows(raw, table, columns, rows):
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def bulk_clone(engine, template, count, due, due_at):
    """Insert `count` clones (COPY); returns their (instance id, timer id) pairs."""
    now = datetime.now(timezone.utc)
    inst, tasks, groups, tims, made = [], [], [], [], []
    t, i, tm = template.task, template.instance, template.timer
    later_due = tm["due_at"]
    for n in range(count):
        iid, state, task_id, timer_id = template.clone(due)
        inst.append((iid, i["definition_id"], i["process_key"], f"B-{n}", "user_input", 1, state, None, now, now))
        tasks.append((task_id, iid, t["process_key"], f"B-{n}", t["element_id"], t["name"], t["lane"],
                      json.dumps(t["candidate_groups"]), json.dumps(t["form"]), t["due_at"], now))
        groups.extend((task_id, g) for g in template.groups)
        tims.append((timer_id, iid, tm["element_id"], due_at if due else later_due, 0))
        made.append((iid, timer_id))
    raw = engine.db.raw_connection()
    try:
        copy_rows(raw, "instances", ["id", "definition_id", "process_key", "business_key", "status", "revision",
                                     "state", "started_by", "started_at", "updated_at"], inst)
        copy_rows(raw, "human_tasks", ["id", "instance_id", "process_key", "business_key", "element_id", "name",
                                       "lane", "candidate_groups", "form", "due_at", "created_at"], tasks)
        copy_rows(raw, "human_task_groups", ["task_id", "group_name"], groups)
        copy_rows(raw, "timers", ["id", "instance_id", "element_id", "due_at", "attempts"], tims)
        raw.commit()
    finally:
        raw.close()
    return made


def tick_cost(engine, due_now=0, rounds=200):
    """Median seconds of an idle scheduler tick (claim + sweep finding nothing)."""
    policy = TimerPolicy()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        claim_due(engine.db, clock.now(), policy, 2000)
        sweep(engine.db, clock.now(), policy, lambda ids: set(), 2000)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def claim_cost(engine, count, pending_label):
    """Seconds to claim `count` due timers in one tick (then un-claims them)."""
    with engine.db.begin() as conn:
        ids = [r.id for r in conn.execute(sa.select(timers.c.id).where(timers.c.enqueued_at.is_(None))
                                          .order_by(timers.c.due_at.desc()).limit(count))]
        conn.execute(timers.update().where(timers.c.id.in_(ids)).values(due_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
    start = time.perf_counter()
    batches = claim_due(engine.db, clock.now(), TimerPolicy(), count)
    elapsed = time.perf_counter() - start
    with engine.db.begin() as conn:
        conn.execute(timers.update().where(timers.c.id.in_(ids)).values(
            due_at=datetime.now(timezone.utc) + timedelta(hours=2), enqueued_at=None, lease_until=None, job_id=None))
    assert sum(len(b.timer_ids) for b in batches) == count
    return elapsed


def explain(engine):
    with engine.db.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN SELECT id FROM timers WHERE enqueued_at IS NULL AND due_at <= now() "
            "ORDER BY due_at LIMIT 2000 FOR UPDATE SKIP LOCKED").all()
    return " / ".join(r[0].strip() for r in plan)


def run_fleet(engine, db_url, redis_url, workers, due_pairs, env_extra):
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT), **env_extra}
    procs = [subprocess.Popen([sys.executable, "-m", "followup.cli", "scheduler"], cwd=ROOT, env=env)]
    procs += [subprocess.Popen([sys.executable, "-m", "followup.cli", "worker", "--name", f"bench-{n}-{os.getpid()}"],
                               cwd=ROOT, env=env) for n in range(workers)]
    try:
        deadline = time.monotonic() + 60
        while (len(r.smembers("rq:workers")) < workers or not r.keys("followup:scheduler:*")) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        due_at = datetime.now(timezone.utc) + timedelta(seconds=1)
        timer_ids = [t for _, t in due_pairs]
        with engine.db.begin() as conn:
            for i in range(0, len(timer_ids), 5000):
                conn.execute(timers.update().where(timers.c.id.in_(timer_ids[i:i + 5000])).values(due_at=due_at))
        count = 0
        deadline = time.monotonic() + 600
        while count < len(timer_ids) and time.monotonic() < deadline:
            time.sleep(0.25)
            with engine.db.connect() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(audit_events).where(
                    audit_events.c.action == "timer_fired")).scalar()
        with engine.db.connect() as conn:
            fired = [r.at for r in conn.execute(sa.select(audit_events.c.at).where(
                audit_events.c.action == "timer_fired"))]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    lags = sorted((at - due_at).total_seconds() for at in fired)
    total = lags[-1] if lags else float("nan")
    return {"workers": workers, "fired": len(fired), "seconds": total, "per_s": len(fired) / total if total else 0,
            "p50": lags[len(lags) // 2], "p99": lags[int(len(lags) * 0.99) - 1]}


def reset_due(engine, template, due_pairs):
    """Replace the fired instances with fresh due clones."""
    ids = [i for i, _ in due_pairs]
    with engine.db.begin() as conn:
        for i in range(0, len(ids), 5000):
            conn.execute(instances.delete().where(instances.c.id.in_(ids[i:i + 5000])))
        conn.execute(audit_events.delete().where(audit_events.c.action == "timer_fired"))
    return bulk_clone(engine, template, len(due_pairs), True, datetime(2099, 1, 1, tzinfo=timezone.utc))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--batch", default=os.environ.get("FOLLOWUP_TIMER_BATCH", "50"))
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--async-commit", action="store_true",
                        help="workers commit with synchronous_commit=off (see README: what a database crash costs)")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
    name = f"followup_bench_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db_url = server.rsplit("/", 1)[0] + f"/{name}"
    engine = Engine(load_settings({"DATABASE_URL": db_url, "FOLLOWUP_TIMEZONE": "Asia/Shanghai"}))
    try:
        engine.migrate()
        template = Template(engine)
        with engine.db.begin() as conn:  # the template itself is not part of the bench
            conn.execute(instances.delete().where(instances.c.id == template.template_id))
            conn.execute(audit_events.delete())
        start = time.perf_counter()
        later = bulk_clone(engine, template, args.pending - args.due, False, None)
        due = bulk_clone(engine, template, args.due, True, datetime(2099, 1, 1, tzinfo=timezone.utc))
        with engine.db.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        log(f"built {len(later) + len(due):,} waiting instances ({len(due):,} to be due) "
            f"in {time.perf_counter() - start:.1f} s")
        log(f"claim query plan: {explain(engine)}")
        cost_big = tick_cost(engine)
        claim_big = claim_cost(engine, 500, "100k")

        results = []
        env_extra = {"FOLLOWUP_TIMER_BATCH": args.batch}
        for n, workers in enumerate(int(w) for w in args.workers.split(",")):
            if n:
                due = reset_due(engine, template, due)
            worker_url = db_url + ("?options=-c%20synchronous_commit%3Doff" if args.async_commit else "")
            res = run_fleet(engine, worker_url, redis_url, workers, due, env_extra)
            results.append(res)
            log(f"{workers} worker(s){' (async commit)' if args.async_commit else ''}: {res['fired']:,} fired in {res['seconds']:.2f} s after due "
                f"= {res['per_s']:.0f}/s, lag p50 {res['p50']:.2f} s, p99 {res['p99']:.2f} s")

        with engine.db.begin() as conn:  # down to 1,000 pending for the flat-cost comparison
            keep = sa.select(timers.c.instance_id).order_by(timers.c.id).limit(1000).scalar_subquery()
            conn.execute(instances.delete().where(instances.c.id.notin_(keep)))
            pending_small = conn.execute(sa.select(sa.func.count()).select_from(timers)).scalar()
        with engine.db.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        cost_small = tick_cost(engine)
        claim_small = claim_cost(engine, 500, "1k")
        log(f"scheduler idle tick (claim + sweep, nothing due): {cost_small * 1000:.2f} ms at {pending_small:,} "
            f"pending, {cost_big * 1000:.2f} ms at {args.pending:,} pending")
        log(f"claiming due timers in one tick: 500 of {pending_small:,} pending {claim_small * 1000:.1f} ms; "
            f"500 of {args.pending:,} pending {claim_big * 1000:.1f} ms")
    finally:
        engine.close()
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
