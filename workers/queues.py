"""Redis and RQ plumbing: queues, enqueueing batches, and telling whether a job is still alive."""
import redis
from rq import Queue
from rq.job import Job

from workers.config import OUTBOX_QUEUE, TIMER_QUEUE

ALIVE_PREFIX = "followup:alive:"
WAITING_STATUSES = {b"queued", b"deferred", b"scheduled"}


def connect(url) -> redis.Redis:
    return redis.Redis.from_url(url)


def timer_queue(connection) -> Queue:
    return Queue(TIMER_QUEUE, connection=connection)


def outbox_queue(connection) -> Queue:
    return Queue(OUTBOX_QUEUE, connection=connection)


def enqueue(queue: Queue, func, jobs, timeout=600):
    """Enqueue `func(ids)` once per (job id, ids), in one round trip."""
    if not jobs:
        return
    queue.enqueue_many([Queue.prepare_data(func, args=(list(ids),), job_id=job_id, result_ttl=60,
                                           failure_ttl=86400, timeout=timeout, description=f"{func} x{len(ids)}")
                        for job_id, ids in jobs])


def live_jobs(connection, job_ids) -> set:
    """The ids among `job_ids` whose job is waiting in a queue, or running in a worker that is still
    beating (`ALIVE_PREFIX` key). A flushed Redis, a killed worker or a failed job: not live."""
    if not job_ids:
        return set()
    pipe = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hget(Job.key_for(job_id), "status")
        pipe.exists(ALIVE_PREFIX + job_id)
    answers = pipe.execute()
    live = set()
    for index, job_id in enumerate(job_ids):
        status, alive = answers[2 * index], answers[2 * index + 1]
        if status in WAITING_STATUSES or (status == b"started" and alive):
            live.add(job_id)
    return live


class RqDispatch:
    """The scheduler's dispatcher on RQ: batches of timers and outbox messages become jobs."""

    def __init__(self, connection):
        self.connection = connection
        self.timer_queue = timer_queue(connection)
        self.outbox_queue = outbox_queue(connection)

    def timers(self, batches):
        enqueue(self.timer_queue, "workers.jobs.fire_timers", [(b.job_id, b.timer_ids) for b in batches])

    def messages(self, jobs):
        enqueue(self.outbox_queue, "workers.jobs.deliver_messages", jobs, timeout=120)

    def migrations(self, batch_ids):
        enqueue(self.outbox_queue, "workers.jobs.run_migrations", [(f"migration-{i}", [i]) for i in batch_ids],
                timeout=6 * 3600)

    def imports(self, claims):
        """(batch id, job id) of background imports: the job id is the batch's fence (import_jobs.py)."""
        enqueue(self.outbox_queue, "workers.jobs.run_imports", [(job_id, [i]) for i, job_id in claims],
                timeout=6 * 3600)

    def live(self, job_ids):
        return live_jobs(self.connection, job_ids)
