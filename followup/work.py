"""CLI commands of the workers: `followup worker`, `followup scheduler`, `followup timers`."""
import logging
import os
import signal
import socket
import threading

import click

from followup.helpers import fail, open_engine


def _redis_url(option):
    url = option or os.environ.get("REDIS_URL")
    if not url:
        fail("set REDIS_URL (or pass --redis-url); without Redis, timers run inside "
             "`followup serve`/`followup demo`", code=2)
    return url


@click.command()
@click.option("--redis-url", help="default: $REDIS_URL")
@click.option("--queue", "queues", multiple=True, help="queues to serve (default: timers and outbox)")
@click.option("--with-scheduler", is_flag=True, help="also run a scheduler loop in this process")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--name", help="worker name (default: RQ's)")
def worker(redis_url, queues, with_scheduler, burst, name):
    """Run an RQ worker for timer and outbox jobs. Start as many as you like, anywhere."""
    from workers.config import OUTBOX_QUEUE, TIMER_QUEUE
    from workers.worker import run_worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_worker(open_engine(), _redis_url(redis_url), queues or (TIMER_QUEUE, OUTBOX_QUEUE), burst=burst,
               with_scheduler=with_scheduler, name=name)


@click.command()
@click.option("--redis-url", help="default: $REDIS_URL")
def scheduler(redis_url):
    """Find due timers, timer start events and outbox messages, and enqueue them for the workers.
    Several may run at once."""
    from workers.queues import connect
    from workers.queues import RqDispatch
    from workers.scheduler import Scheduler

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    connection = connect(_redis_url(redis_url))
    beacon = f"followup:scheduler:{socket.gethostname()}:{os.getpid()}"
    loop = Scheduler(open_engine(), RqDispatch(connection), on_sweep=lambda: connection.set(beacon, 1, ex=30))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop.run(stop)


@click.group()
def timers():
    """Look at and run timers without Redis."""


@timers.command("run")
def timers_run():
    """Fire every due timer, launch due timer start events and deliver the outbox, then exit."""
    from workers.inprocess import run_due

    click.echo(f"{run_due(open_engine())} timer(s) fired or retried")


@timers.command("list")
@click.option("--limit", default=50, show_default=True)
def timers_list(limit):
    """Pending timers, earliest first, with their claim and failure state."""
    import sqlalchemy as sa

    from engine.storage.schema import timers as table

    engine = open_engine()
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.due_at).limit(limit)).all()
    for r in rows:
        state = "parked" if r.enqueued_at and not r.lease_until else "claimed" if r.enqueued_at else "pending"
        error = f"  attempts={r.attempts} last_error={r.last_error}" if r.attempts or r.last_error else ""
        click.echo(f"{r.due_at.isoformat()}  {r.instance_id}  {r.element_id}  {state}{error}")
