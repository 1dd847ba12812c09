"""`followup worker`: an RQ worker that does not fork per job and keeps one Engine for its lifetime.

RQ's default worker forks a child per job, which would rebuild the database pool and the parsed specs
every time; `SimpleWorker` runs jobs in the worker process itself. A job that crashes the process
loses nothing: its timers stay claimed in the database until the sweep re-enqueues them.
"""
import logging
import threading

from rq import SimpleWorker

from workers.config import OUTBOX_QUEUE, TIMER_QUEUE, WorkerConfig
from workers.jobs import set_engine
from workers.queues import connect

log = logging.getLogger(__name__)


class FollowupWorker(SimpleWorker):
    pass


def run_worker(engine, redis_url, queues=(TIMER_QUEUE, OUTBOX_QUEUE), burst=False, with_scheduler=False,
               name=None, config: WorkerConfig | None = None):
    config = config or WorkerConfig.from_env()
    set_engine(engine, config)
    connection = connect(redis_url)
    stop = threading.Event()
    if with_scheduler:
        from workers.queues import RqDispatch
        from workers.scheduler import Scheduler

        scheduler = Scheduler(engine, RqDispatch(connect(redis_url)), config)
        threading.Thread(target=scheduler.run, args=(stop,), name="followup-scheduler", daemon=True).start()
    worker = FollowupWorker(list(queues), connection=connection, name=name, log_job_description=False)
    try:
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
    finally:
        stop.set()
