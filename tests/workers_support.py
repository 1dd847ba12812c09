"""Real `followup scheduler` and `followup worker` processes for the guarantee tests."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import sqlalchemy as sa

from engine.storage.schema import audit_events, timers

ROOT = Path(__file__).resolve().parent.parent
FAST_ENV = {"FOLLOWUP_TIMER_LEASE": "2", "FOLLOWUP_JOB_HEARTBEAT": "1", "FOLLOWUP_SWEEP_EVERY": "0.5",
            "FOLLOWUP_SCHEDULER_TICK": "0.1", "FOLLOWUP_TIMER_BATCH": "20"}


def wait_for(condition, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Stack:
    """Scheduler and worker processes on the test's database and Redis; `close()` ends them all."""

    def __init__(self, engine, redis_url, log_dir):
        self.env = {**os.environ, **FAST_ENV, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
                    "REDIS_URL": redis_url, "FOLLOWUP_TIMEZONE": "Asia/Shanghai", "PYTHONPATH": str(ROOT)}
        self.redis = redis.Redis.from_url(redis_url)
        self.log_dir = Path(log_dir)
        self.procs = {}

    def _spawn(self, name, *args):
        log = open(self.log_dir / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "followup.cli", *args], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def scheduler(self, name="scheduler"):
        return self._spawn(name, "scheduler")

    def worker(self, name):
        return self._spawn(name, "worker", "--name", f"{name}-{os.getpid()}")

    def wait_ready(self, schedulers=0, workers=(), timeout=30):
        def ready():
            beacons = len(self.redis.keys("followup:scheduler:*"))
            names = {w.decode() for w in self.redis.smembers("rq:workers")}
            return beacons >= schedulers and all(any(n.startswith(f"rq:worker:{w}-") for n in names) for w in workers)
        try:
            wait_for(ready, timeout, what=f"{schedulers} scheduler(s) and workers {workers}")
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.logs()}") from None

    def logs(self, tail=2000):
        return "\n".join(f"--- {name} (exit {proc.poll()}):\n"
                         + (self.log_dir / f"{name}.log").read_bytes().decode(errors="replace")[-tail:]
                         for name, proc in self.procs.items())

    def kill(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def fired_events(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(audit_events).where(audit_events.c.action == "timer_fired")).all()


def pending_timers(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(timers)).all()
