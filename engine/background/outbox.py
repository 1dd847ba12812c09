"""The outbox's delivery: messages for the outside world (robot webhooks, notifications) are written in
the same transaction as the change that caused them, and handed to a delivery job only once that commit
is done.

Scripts call `notify(channel, text)` (engine/context.py); the message waits in the change's context
until `InstanceStore` writes it into the `outbox` table with the instance's new state
(instances/writes.py), or is thrown away if the change does not commit. A scheduler then claims
committed rows (`claim`, the same lease pattern as timers) and a worker delivers them (`deliver`): sent
rows get `sent_at`; a failed try is counted and retried after a backoff; after the last try
`next_attempt_at` is cleared and the row stays with its `last_error` for someone to look at. Delivery is at least once: a robot may see a message
twice if a worker dies between the HTTP call and the commit.
"""
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.storage.schema import outbox

_log = logging.getLogger("followup.outbox")  # a failed delivery is a log line (and GET /api/instances/{id})


@dataclass(frozen=True)
class OutboxPolicy:
    lease: float = 60.0
    max_attempts: int = 6
    backoff: tuple = (5.0, 30.0, 120.0, 600.0, 1800.0)

    def delay(self, attempts):
        return self.backoff[min(attempts, len(self.backoff)) - 1]


# ---- delivering -------------------------------------------------------------------------------------
def claim(db, now, policy: OutboxPolicy, limit=200) -> list[tuple[str, list[int]]]:
    """Claim messages whose next try is due: (job id, [message ids]) per job, one message each."""
    with db.begin() as conn:
        ids = [r.id for r in conn.execute(
            sa.select(outbox.c.id).where(outbox.c.next_attempt_at <= now, outbox.c.sent_at.is_(None))
            .order_by(outbox.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True))]
        jobs = []
        for message_id in ids:
            job_id = f"outbox-{message_id}-{uuid.uuid4().hex[:8]}"
            conn.execute(outbox.update().where(outbox.c.id == message_id).values(
                next_attempt_at=now + timedelta(seconds=policy.lease), job_id=job_id))
            jobs.append((job_id, [message_id]))
    return jobs


def deliver(db, message_id, send, policy: OutboxPolicy) -> str:
    """Send one message with `send(topic, payload)`; record the outcome. Returns sent/retry/dead/done."""
    with db.connect() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).first()
    if row is None or row.sent_at is not None:
        return "done"
    try:
        send(row.topic, row.payload)
    except Exception as err:  # noqa: BLE001 - any failure is a failed try
        now = clock.now()
        attempts = row.attempts + 1
        dead = attempts >= policy.max_attempts
        with db.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == message_id).values(
                attempts=attempts, last_error=f"{type(err).__name__}: {err}"[:2000], job_id=None,
                next_attempt_at=None if dead else now + timedelta(seconds=policy.delay(attempts))))
        _log.warning(json.dumps({
            "event": "notification_failed" if dead else "notification_retry", "message_id": message_id,
            "instance_id": row.instance_id, "channel": (row.payload or {}).get("channel"), "attempts": attempts,
            "error": f"{type(err).__name__}: {err}"[:500]}, ensure_ascii=False))
        return "dead" if dead else "retry"
    with db.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == message_id).values(
            sent_at=clock.now(), attempts=row.attempts + 1, next_attempt_at=None, last_error=None))
    return "sent"
