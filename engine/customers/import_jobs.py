"""Customer imports run in the background (issue 11): a big file answers at once, and its import runs
as a job whose progress anyone in reach can poll.

The same design as the migration batches (engine/instances/migration.py) and the timers' leases
(engine/background/timers.py):

- `queue` checks what needs no database (mode, key, the file readable, its columns mapped), then records
  the batch `queued` and keeps the uploaded bytes in `import_files`, so the file survives until a job
  runs it, in whichever process. The bytes are deleted when the batch ends (applied, checked, failed).
- `claim_queued` (the scheduler's sweep) marks the queued batches `running`, each with a job id and a
  lease; the dispatcher runs them on RQ (workers/jobs.py `run_imports`) or in-process (InlineDispatch).
- `run` is the job: it reads the file, checks every row as the synchronous import does, and writes the
  good rows a chunk (`importer.CHUNK` rows of the file) per transaction. That transaction also advances
  `rows_done`, the partial summary and the lease, and first checks that the batch is still this job's
  (`job_id`, the fence): a job whose batch was handed to another stops before it writes anything more.
- `sweep` looks at running batches whose lease ran out: a job still alive (RQ: queued, or started with
  its heartbeat key) keeps it; otherwise the batch goes to a new job, up to `max_attempts` jobs, after
  which it ends `failed` with the reason. Nothing stays `running` for ever.

After a crash the import RESUMES after the last committed chunk, it does not restart: the new job reads
the file again, checks the rows again with this batch's own customers reading as absent (so each row
is checked as it was the first time), skips the rows before `rows_done` and writes the rest. A chunk
and its progress commit together, so every row is written exactly once. (While the rows are checked
again, `rows_checked` and the percentage stay where the lost job left them until the check passes them.)
The access checks
(`in_reach`, `holder_problem`, `landing`) are computed from the importing user, rebuilt from the identity store
for every run (the caller hands in `reach(actor)`, engine/runtime.py).
"""
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.config import env_numbers
from engine.errors import Conflict, FollowupError, NotFound
from engine.storage.backend import backend_for
from engine.storage.database import retrying

from engine.customers import importer
from engine.customers.schema import import_batches, import_files
from engine.customers.tabular import read_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportPolicy:
    lease: float = 60.0     # seconds a running batch may go without progress before the sweep checks its job
    max_attempts: int = 3   # jobs a batch may be given (the first and two after lost workers)

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        return cls(**env_numbers(env, {"lease": ("FOLLOWUP_IMPORT_LEASE", float),
                                       "max_attempts": ("FOLLOWUP_IMPORT_ATTEMPTS", int)}))


class Lost(Exception):
    """The batch is no longer this job's (the sweep gave it to another, or it ended)."""


def _job_id(batch_id, attempt):
    return f"import-{batch_id}-{attempt}-{uuid.uuid4().hex[:8]}"


class ImportJobs:
    def __init__(self, db, policy: ImportPolicy | None = None):
        self.db = db  # the importer's functions take anything with a `db`
        self.policy = policy or ImportPolicy.from_env()

    # ---- the request --------------------------------------------------------------------------------
    def queue(self, data, file_name=None, mapping=None, mode="create", key=None, dry_run=False, actor=None) -> dict:
        """Record a `queued` batch and keep the file; the scheduler's sweep hands it to a job."""
        mode = importer.checked_mode(mode)
        name, headers = read_headers(data, file_name)
        columns, _ = importer.resolve_mapping(headers, mapping)
        key = importer.checked_key(key, columns)
        with self.db.begin() as conn:
            batch_id = conn.execute(import_batches.insert().values(
                at=clock.now(), actor=actor, file_name=name, mode=mode, key=key, status="queued", summary={},
                error_rows={}, dry_run=bool(dry_run), options={"mapping": mapping}).returning(import_batches.c.id)
            ).scalar_one()
            conn.execute(import_files.insert().values(batch_id=batch_id, name=name, size=len(data), data=bytes(data)))
        return self.batch(batch_id)

    def batch(self, batch_id, actors=None) -> dict:
        """One batch with its progress (importer.batch_view); another's reads as missing."""
        if not 0 < batch_id < 2**31:
            raise NotFound(f"no import batch {batch_id}")
        return importer.batch_view(importer.get_batch(self, batch_id, actors), details=True)

    def cancel(self, batch_id, actor, actors=None) -> dict:
        """Stop a batch that has not ended (`actors`: whose batches the caller reaches, None for all). A
        queued one never runs. A running one stops before its next chunk: the cancel waits for the chunk
        being written (its row is locked meanwhile) and its job then finds the batch is no longer its own.
        The rows written so far stay, named in the answer; revert the batch to take them back. Conflict for
        a batch that has ended."""
        if not 0 < batch_id < 2**31:
            raise NotFound(f"no import batch {batch_id}")
        with self.db.begin() as conn:
            batch = conn.execute(sa.select(import_batches).where(import_batches.c.id == batch_id)
                                 .with_for_update()).first()
            if batch is None or (actors is not None and batch.actor not in actors):
                raise NotFound(f"no import batch {batch_id}")
            if batch.status not in importer.UNFINISHED:
                raise Conflict(f"import {batch_id} has already ended ({batch.status}): there is nothing to cancel"
                               + ("; revert it to undo what it wrote" if batch.status in ("applied", "failed") else ""),
                               batch_id=batch_id, status=batch.status)
            written = batch.rows_done if not batch.dry_run else 0
            _end(conn, batch_id, "cancelled", error=(
                f"cancelled by {actor}" + (f" after {written:,} of {batch.total_rows:,} rows; revert it to undo them"
                                           if written and batch.total_rows else " before it wrote anything")))
        log.info("import %s cancelled by %s", batch_id, actor)
        return self.batch(batch_id)

    # ---- the scheduler ------------------------------------------------------------------------------
    def claim_queued(self, now=None) -> list[tuple[int, str]]:
        """Take the queued batches: (batch id, job id) for the dispatcher; locked rows are another's."""
        now = now or clock.now()
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(import_batches.c.id, import_batches.c.attempts)
                                .where(import_batches.c.status == "queued").order_by(import_batches.c.id)
                                .with_for_update(skip_locked=True)).all()
            return [self._hand_out(conn, r.id, r.attempts, now) for r in rows]

    def _hand_out(self, conn, batch_id, attempts, now):
        job_id = _job_id(batch_id, attempts + 1)
        conn.execute(import_batches.update().where(import_batches.c.id == batch_id).values(
            status="running", job_id=job_id, attempts=attempts + 1,
            lease_until=now + timedelta(seconds=self.policy.lease)))
        return batch_id, job_id

    def sweep(self, is_live, now=None) -> list[tuple[int, str]]:
        """Running batches whose lease ran out: a live job keeps its batch; a lost one's batch goes to a new
        job (returned, to dispatch), or ends `failed` after `max_attempts` jobs."""
        now = now or clock.now()
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(import_batches.c.id, import_batches.c.job_id, import_batches.c.attempts,
                                          import_batches.c.rows_done, import_batches.c.total_rows)
                                .where(import_batches.c.status == "running", import_batches.c.lease_until <= now)
                                .order_by(import_batches.c.id).with_for_update(skip_locked=True)).all()
            if not rows:
                return []
            live = is_live(sorted({r.job_id for r in rows if r.job_id}))
            handed = []
            for row in rows:
                if row.job_id in live:
                    conn.execute(import_batches.update().where(import_batches.c.id == row.id)
                                 .values(lease_until=now + timedelta(seconds=self.policy.lease)))
                elif row.attempts >= self.policy.max_attempts:
                    done = f"{row.rows_done:,} of {row.total_rows:,}" if row.total_rows else "none"
                    _end(conn, row.id, "failed", error=(
                        f"the import stopped {row.attempts} times without finishing (its worker was killed or "
                        f"lost); rows written: {done}. Revert it and import the file again"))
                    log.warning("import %s failed after %s lost jobs", row.id, row.attempts)
                else:
                    log.warning("import %s: job %s was lost; resuming it after row %s", row.id, row.job_id,
                                row.rows_done)
                    handed.append(self._hand_out(conn, row.id, row.attempts, now))
            return handed

    # ---- the job ------------------------------------------------------------------------------------
    def run(self, batch_id, job_id, reach, heartbeat=None) -> dict | None:
        """Run (or resume) batch `batch_id` as job `job_id`. `reach(actor)` -> the importer's reach (see
        `importer.import_customers`) of the importing user as they are now (raises if they are gone). Returns the batch as it ended,
        or None when it is not this job's (any more)."""
        beat = heartbeat or (lambda: None)
        beat()
        with self.db.connect() as conn:
            batch = conn.execute(sa.select(import_batches).where(import_batches.c.id == batch_id)).first()
            file = conn.execute(sa.select(import_files).where(import_files.c.batch_id == batch_id)).first()
        if batch is None or batch.status != "running" or batch.job_id != job_id:
            return None
        try:
            if file is None:
                raise Conflict("the uploaded file is gone; import it again")
            rules = reach(batch.actor)
            options = batch.options or {}
            prepared = importer.prepare(file.data, file.name, options.get("mapping"), batch.mode, batch.key)
            total = len(prepared.rows)
            self._advance(batch_id, job_id, total_rows=total)

            checked_before = batch.rows_checked or 0  # a resumed job checks again from row 1: no step back

            def checking(done, _total):
                beat()
                shown = max(done, checked_before)
                self._advance(batch_id, job_id, rows_checked=shown, **({"rows_done": shown} if batch.dry_run else {}))
            importer.check(self, prepared, checking, own_batch=batch_id, **rules)
            report = importer.report_of(prepared, batch.dry_run)
            details = importer.kept_details(report)
            summary = {k: report[k] for k in importer.SUMMARY}
            if batch.dry_run:
                return self._finish(batch_id, job_id, "checked", summary, report["error_rows"], details, total)
            self._advance(batch_id, job_id, error_rows=report["error_rows"], details=details)
            counts = {k: (batch.summary or {}).get(k, 0) for k in ("created", "updated", "unchanged")}
            pause = backend_for(self.db).pause_between_writes
            for start in range(batch.rows_done, total, importer.CHUNK):  # resumed after the last chunk written
                beat()
                window = prepared.rows[start:start + importer.CHUNK]

                def write_chunk():  # tried again when the database aborts it to break a deadlock
                    with self.db.begin() as conn:
                        _fence(conn, batch_id, job_id, self.policy.lease)
                        written = importer.write_rows(conn, window, batch_id, batch.actor, clock.now())
                        after = {k: counts[k] + written.get(k, 0) for k in counts}
                        conn.execute(import_batches.update().where(import_batches.c.id == batch_id)
                                     .values(rows_done=start + len(window), summary=after))
                    return after
                counts = retrying(write_chunk)
                after_chunk(batch_id, start + len(window))
                time.sleep(pause)  # SQLite: the timers' turn at the one writer's lock
            return self._finish(batch_id, job_id, "applied", {**summary, **counts}, report["error_rows"], details,
                                total)
        except Lost:
            log.warning("import %s is no longer job %s's; it stops", batch_id, job_id)
            return None
        except sa.exc.IntegrityError as err:
            return self._fail(batch_id, job_id, "another change created one of these customers while importing "
                                                f"({err.orig}); revert this import and run it again")
        except FollowupError as err:
            return self._fail(batch_id, job_id, str(err))
        except Exception as err:  # noqa: BLE001 - a job's failure is its batch's `error`, not a retry for ever
            log.exception("import %s failed", batch_id)
            return self._fail(batch_id, job_id, f"{type(err).__name__}: {err}")

    def _advance(self, batch_id, job_id, **values):
        with self.db.begin() as conn:
            _fence(conn, batch_id, job_id, self.policy.lease)
            if values:
                conn.execute(import_batches.update().where(import_batches.c.id == batch_id).values(**values))

    def _finish(self, batch_id, job_id, status, summary, error_rows, details, total):
        with self.db.begin() as conn:
            _fence(conn, batch_id, job_id, self.policy.lease)
            _end(conn, batch_id, status, summary=summary, error_rows=error_rows, details=details, total_rows=total,
                 rows_checked=total, rows_done=total)
        return self.batch(batch_id)

    def _fail(self, batch_id, job_id, reason):
        try:
            with self.db.begin() as conn:
                _fence(conn, batch_id, job_id, self.policy.lease)
                _end(conn, batch_id, "failed", error=reason)
        except Lost:
            return None
        return self.batch(batch_id)


def after_chunk(batch_id, rows_done):
    """Called after each committed chunk (a seam for the tests that kill a job half-way)."""


def _fence(conn, batch_id, job_id, lease):
    """Renew the lease, if the batch is still this job's; else Lost. On PostgreSQL the row stays locked to
    the end of the transaction, so no sweep takes the batch while a chunk is being written."""
    done = conn.execute(import_batches.update().where(
        import_batches.c.id == batch_id, import_batches.c.job_id == job_id, import_batches.c.status == "running")
        .values(lease_until=clock.now() + timedelta(seconds=lease)))
    if done.rowcount != 1:
        raise Lost(batch_id)


def _end(conn, batch_id, status, **values):
    conn.execute(import_batches.update().where(import_batches.c.id == batch_id).values(
        status=status, lease_until=None, finished_at=clock.now(), **values))
    conn.execute(import_files.delete().where(import_files.c.batch_id == batch_id))
