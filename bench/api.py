"""The agent loop over HTTP against a real server: list my group's unassigned tasks, claim one, complete
it with a form value. Runs with 1 and then 4 concurrent clients (each its own process, persistent HTTP
connections) against gunicorn on a throw-away PostgreSQL database, and prints completions/s and
p50/p95/p99 latency per call; then counts the SQL statements of one loop in-process.

    .venv/bin/python bench/api.py [--seconds 15] [--clients 1,4] [--repeat 3] [--workers 2] [--threads 4] [--no-total]
                                  [--worker-class gthread] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

`--no-total`: the agent lists with `total=false` (no count of the whole inbox, which an agent polling for
work does not need); by default it lists as before, with the exact total.

Instances (bench/callback.bpmn: one user task with an enum form field) are started through the engine
before the clock starts; the timed loop is only list, claim, complete over HTTP.
"""
import argparse
import http.client
import json
import logging
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
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
from engine.identity import IdentityStore  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.storage.database import create_db_engine  # noqa: E402

BPMN = ROOT / "bench" / "callback.bpmn"
BODY = json.dumps({"variables": {"outcome": "reached"}}).encode()


# ---- set-up ---------------------------------------------------------------------------------------
def create_database(server_url):
    name = f"followup_bench_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return name, server_url.rsplit("/", 1)[0] + f"/{name}", admin


def start_instances(engine, count):
    for n in range(count):
        engine.start("api_bench", f"B-{n}", {}, actor="bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url, port, workers, threads, worker_class, log_path):
    env = {**os.environ, "DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()}
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-w", str(workers), "-k", worker_class, "-b", f"127.0.0.1:{port}",
               "--keep-alive", "30", "api.wsgi:app"]
    if worker_class == "gthread":
        command[5:5] = ["--threads", str(threads)]
    log = open(log_path, "wb")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return process, " ".join(command[1:])
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn did not start; see {log_path}")


# ---- the client -----------------------------------------------------------------------------------
class Client:
    """A minimal HTTP/1.1 client on one kept-alive socket. The load generator shares the two cores with
    the server and PostgreSQL: http.client (headers parsed by the email package) cost a completion more
    CPU than this does, CPU the server then did not have."""

    def __init__(self, port, token):
        self.port = port
        self.head = (f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\n").encode()
        self.sock, self.buffer = None, b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _exchange(self, method, path, body):
        if self.sock is None:
            self._connect()
        body = body or b""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + self.head
                          + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            self._receive()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get(b"connection", b"").lower() == b"close":
            self.sock.close()
            self.sock = None
        return status, data

    def _receive(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def call(self, method, path, body=None):
        for attempt in range(2):
            try:
                started = time.perf_counter()
                status, data = self._exchange(method, path, body)
                return status, data, time.perf_counter() - started
            except OSError:
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


LIST_PATH = "/api/tasks?scope=unassigned&page_size=20"


def agent_loop(port, token, seconds, seed, results, list_path=LIST_PATH):
    client, rng = Client(port, token), random.Random(seed)
    latencies = {"list": [], "claim": [], "complete": []}
    loops, conflicts, errors = [], 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        loop_started = time.perf_counter()
        status, data, took = client.call("GET", list_path)
        latencies["list"].append(took)
        items = json.loads(data)["items"] if status == 200 else []
        if not items:
            break
        task = rng.choice(items)["id"]
        status, _, took = client.call("POST", f"/api/tasks/{task}/claim")
        latencies["claim"].append(took)
        if status == 409:
            conflicts += 1
            continue
        status, _, took = client.call("POST", f"/api/tasks/{task}/complete", BODY)
        latencies["complete"].append(took)
        if status != 200:
            errors += 1
            continue
        loops.append(time.perf_counter() - loop_started)
    results.put({"latencies": latencies, "loops": loops, "conflicts": conflicts, "errors": errors,
                 "cpu": time.process_time()})


def cpu_seconds(pids):
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master_pid):
    pids = [master_pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return pids


def postgres_pids(engine, database):
    with engine.db.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,))]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(port, tokens, clients, seconds, cpu_probe=None, list_path=LIST_PATH):
    results = multiprocessing.Queue()
    cpu_before = cpu_probe() if cpu_probe else None
    processes = [multiprocessing.Process(target=agent_loop, args=(port, tokens[i], seconds, i, results, list_path))
                 for i in range(clients)]
    started = time.perf_counter()
    for p in processes:
        p.start()
    collected = [results.get() for _ in processes]
    for p in processes:
        p.join()
    elapsed = time.perf_counter() - started
    cpu_after = cpu_probe() if cpu_probe else None
    merged = {"list": [], "claim": [], "complete": []}
    loops, conflicts, errors, client_cpu = [], 0, 0, 0.0
    for r in collected:
        client_cpu += r["cpu"]
        for kind in merged:
            merged[kind] += r["latencies"][kind]
        loops += r["loops"]
        conflicts += r["conflicts"]
        errors += r["errors"]
    every = merged["list"] + merged["claim"] + merged["complete"]
    print(f"\n{clients} client(s), {elapsed:.1f} s: {len(loops)} completions, "
          f"{len(loops) / elapsed:.1f} completions/s, {len(every) / elapsed:.0f} requests/s, "
          f"{conflicts} claim conflicts, {errors} errors")
    print(f"  {'call':<10}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for kind, values in (*merged.items(), ("all calls", every), ("loop", loops)):
        print(f"  {kind:<10}{len(values):>7}{percentile(values, 50) * 1000:>10.2f}"
              f"{percentile(values, 95) * 1000:>10.2f}{percentile(values, 99) * 1000:>10.2f}")
    if cpu_probe and loops:
        server_cpu, pg_cpu = (cpu_after[i] - cpu_before[i] for i in (0, 1))
        print(f"  CPU per completion: server (gunicorn) {server_cpu / len(loops) * 1000:.2f} ms, "
              f"PostgreSQL backends {pg_cpu / len(loops) * 1000:.2f} ms, "
              f"clients (this load generator) {client_cpu / len(loops) * 1000:.2f} ms")
    return len(loops) / elapsed


# ---- SQL statements per loop (in-process, exact) -----------------------------------------------------
def count_statements(engine, token):
    from api import create_app

    os.environ["FOLLOWUP_TOKEN_CACHE_SECONDS"] = "0"
    client = create_app(engine).test_client()
    logging.getLogger("followup.access").setLevel(logging.WARNING)
    headers = {"Authorization": f"Bearer {token}"}
    counts = {}
    current = {"kind": None}

    @event.listens_for(engine.db, "before_cursor_execute")
    def _count(*_args):
        counts[current["kind"]] = counts.get(current["kind"], 0) + 1

    loops = 20
    for _ in range(loops):
        current["kind"] = "list"
        task = client.get("/api/tasks?scope=unassigned&page_size=20", headers=headers).get_json()["items"][0]["id"]
        current["kind"] = "claim"
        client.post(f"/api/tasks/{task}/claim", headers=headers)
        current["kind"] = "complete"
        client.post(f"/api/tasks/{task}/complete", headers=headers, json={"variables": {"outcome": "reached"}})
    event.remove(engine.db, "before_cursor_execute", _count)
    per = {k: v / loops for k, v in counts.items()}
    print(f"\nSQL statements per loop (token cache off): list {per['list']:.1f}, claim {per['claim']:.1f}, "
          f"complete {per['complete']:.1f}, total {sum(per.values()):.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--instances", type=int, default=0, help="tasks to prepare (default: enough)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client count (median, min, max printed)")
    parser.add_argument("--no-total", action="store_true", help="list with total=false (no count of the inbox)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL",
                                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    name, url, admin = create_database(args.pg_url)
    engine = None
    server = None
    try:
        settings = load_settings({"DATABASE_URL": url, "FOLLOWUP_DATA_DIR": tempfile.mkdtemp()})
        engine = Engine(settings)
        engine.migrate()
        engine.deploy([("callback.bpmn", BPMN.read_bytes())], actor="bench")
        identity = IdentityStore(engine.db)
        tokens = []
        for i in range(max(clients)):
            identity.add_user(f"agent{i}", "agent", ["bench"])
            tokens.append(identity.issue_token(f"agent{i}")[1])
        port = free_port()
        log_path = Path(tempfile.gettempdir()) / f"{name}.log"
        server, command = start_server(url, port, args.workers, args.threads, args.worker_class, log_path)
        print(f"server: gunicorn {command}  (PostgreSQL database {name}, {os.cpu_count()} CPUs, log {log_path})")
        summary = []
        for n in clients:
            rates = []
            for _ in range(args.repeat):
                needed = args.instances or int(args.seconds * 400) + 200
                t0 = time.perf_counter()
                start_instances(engine, needed)
                with engine.db.begin() as conn:  # what autovacuum does to a table that grew: fresh planner stats
                    conn.exec_driver_sql("ANALYZE")
                print(f"\nprepared {needed} open tasks in {time.perf_counter() - t0:.1f} s")
                server_side = server_pids(server.pid)
                database_side = postgres_pids(engine, name)  # after warm-up: the server's pooled connections

                def probe():
                    return cpu_seconds(server_side), cpu_seconds(postgres_pids(engine, name) or database_side)
                rates.append(run(port, tokens, n, args.seconds, probe,
                                 LIST_PATH + ("&total=false" if args.no_total else "")))
                with engine.db.begin() as conn:  # a fresh inbox for the next run
                    conn.exec_driver_sql("TRUNCATE instances, human_tasks, human_task_groups, task_counts, timers, "
                                         "message_waits, audit_events CASCADE")
            summary.append((n, rates))
        print("\nsummary (completions/s; the host's speed varies from run to run, hence several runs):")
        for n, rates in summary:
            print(f"  {n} client(s): median {statistics.median(rates):.1f}, min {min(rates):.1f}, "
                  f"max {max(rates):.1f} over {len(rates)} run(s)")
        start_instances(engine, 30)
        count_statements(engine, tokens[0])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if engine is not None:
            engine.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
