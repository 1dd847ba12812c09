"""Issue 11, the last item: a big customer import runs in the background (engine/customers/import_jobs.py).
The request answers 202 at once with the batch; the batch's progress can be polled; a job that dies is
resumed after its last committed chunk, so every row is imported exactly once."""
import csv
import io
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api_fixtures import *  # noqa: F401,F403
from engine import clock
from engine.customers import import_jobs
from engine.customers.schema import customers, import_files, record_changes
from engine.customers.vocab import seed_defaults
from engine.storage.schema import audit_events, instances
from workers.config import WorkerConfig
from workers.inprocess import run_due, start_background


@pytest.fixture
def hub(engine, team):
    seed_defaults(engine)
    return team


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _file(count, bad_every=0, prefix="公司"):
    """A customer file of `count` rows; every `bad_every`-th row has a phone no one can call."""
    rows = [["客户名称", "联系电话", "负责人"]]
    for i in range(count):
        phone = "12" if bad_every and i % bad_every == bad_every - 1 else f"138{i:08d}"
        rows.append([f"{prefix}{i}号有限公司", phone, "li"])
    return _csv(rows)


def _post(caller, data, **form):
    return caller.post("/api/imports", data={"file": (io.BytesIO(data), "客户.csv"), **form},
                       content_type="multipart/form-data")


def _count(engine, table, *where):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def _summary(report):
    return {k: report[k] for k in ("total_rows", "created", "updated", "unchanged", "failed")}


def test_a_big_file_answers_202_at_once_and_the_import_can_be_polled_to_its_end(hub, engine, client):
    data = _file(20_000, bad_every=1000)
    # what a synchronous import says of this file (checked, nothing written)
    dry = _post(hub.boss, data, dry_run="true", background="false")
    assert dry.status_code == 200
    started = time.monotonic()
    answer = _post(hub.boss, data)
    answered_in = time.monotonic() - started
    assert answer.status_code == 202, answer.get_json()
    batch = answer.get_json()
    assert (batch["status"], batch["rows_done"], batch["percent"], batch["dry_run"]) == ("queued", 0, 0, False)
    location = answer.headers["Location"]
    assert location.endswith(f"/api/imports/{batch['id']}")
    assert _count(engine, customers) == 0

    runner = start_background(engine, WorkerConfig(sweep_every=0.1, tick=0.05))
    try:
        seen, health = [], []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            polled = hub.boss.get(location)
            assert polled.status_code == 200
            seen.append(polled.get_json())
            if seen[-1]["status"] not in ("queued", "running"):
                break
            health.append(client.get("/api/health").status_code)
            time.sleep(0.2)
        took = time.monotonic() - started
    finally:
        runner.stop()
    final = seen[-1]
    assert final["status"] == "applied", final
    assert (final["rows_done"], final["total_rows"], final["percent"], final["error"]) == (20_000, 20_000, 100, None)
    running = [b for b in seen if b["status"] == "running" and b["total_rows"]]
    assert len({b["rows_done"] for b in running} | {b["rows_checked"] for b in running}) > 2, \
        "polling saw the import move"
    done = [b["rows_done"] for b in seen]
    assert done == sorted(done)
    assert health and set(health) == {200}, "the server answered while the import ran"
    assert answered_in < took / 5, (answered_in, took)
    # the summary is the synchronous import's, and the customers are there
    assert final["summary"] == _summary(dry.get_json()) == {"total_rows": 20_000, "created": 19_980, "updated": 0,
                                                             "unchanged": 0, "failed": 20}
    assert len(final["errors"]) == 20 and final["errors"][0]["row"] == 1001
    listed = hub.boss.get("/api/customers?page_size=1").get_json()
    assert listed["total"] == 19_980
    assert _count(engine, import_files) == 0, "the uploaded file is gone once the import has ended"
    errors = hub.boss.get(f"/api/imports/{batch['id']}/errors.csv")
    assert errors.status_code == 200 and len(errors.data.decode("utf-8-sig").splitlines()) == 21
    items = hub.boss.get("/api/imports").get_json()["items"]
    assert [(b["id"], b["status"], b["rows_done"], b["total_rows"], b["percent"]) for b in items] == [
        (batch["id"], "applied", 20_000, 20_000, 100)]


def test_a_background_dry_run_writes_nothing(hub, engine):
    data = _file(50, bad_every=10)
    sync = _post(hub.boss, data, dry_run="true").get_json()
    answer = _post(hub.boss, data, dry_run="true", background="true")
    assert answer.status_code == 202 and answer.get_json()["dry_run"] is True
    run_due(engine)
    batch = hub.boss.get(answer.headers["Location"]).get_json()
    assert (batch["status"], batch["rows_done"], batch["total_rows"], batch["percent"]) == ("checked", 50, 50, 100)
    assert batch["summary"] == _summary(sync)
    assert batch["errors"] == sync["errors"]
    assert _count(engine, customers) == 0 and _count(engine, record_changes) == 0
    refused = hub.boss.post(f"/api/imports/{batch['id']}/revert")
    assert refused.status_code == 409 and "dry run" in refused.get_json()["detail"]


def test_another_teams_supervisor_gets_404_and_an_agent_403_on_a_background_batch(hub, engine):
    answer = _post(hub.chief, _file(5, prefix="服务"), background="true")
    assert answer.status_code == 202
    location = answer.headers["Location"]
    assert hub.boss.get(location).status_code == 404
    assert hub.sam.get(location).status_code == 403
    assert hub.li.get(location).status_code == 403
    assert hub.admin.get(location).status_code == 200
    assert hub.boss.get("/api/imports").get_json()["total"] == 0
    run_due(engine)
    assert hub.chief.get(location).get_json()["status"] == "applied"
    assert hub.boss.get(location).status_code == 404


def test_the_job_runs_with_the_importers_reach_rebuilt_from_the_identity_store(hub, engine, identity):
    # boss may give customers to li (sales-east), not to sam (service); checked in the job as in the request
    rows = [["客户名称", "负责人"], ["甲公司", "li"], ["乙公司", "sam"]]
    answer = _post(hub.boss, _csv(rows), background="true")
    run_due(engine)
    batch = hub.boss.get(answer.headers["Location"]).get_json()
    assert batch["summary"]["created"] == 1 and batch["summary"]["failed"] == 1
    assert "boss's teams" in batch["errors"][0]["reason"]
    # an importer who is no longer active: the job refuses, naming why
    answer = _post(hub.boss, _csv([["客户名称"], ["丙公司"]]), background="true")
    identity.update_user("boss", active=False)
    run_due(engine)
    batch = hub.admin.get(answer.headers["Location"]).get_json()
    assert batch["status"] == "failed" and "no longer active" in batch["error"]
    assert _count(engine, customers, customers.c.name == "丙公司") == 0
    no_file = hub.admin.get(answer.headers["Location"] + "/errors.csv")
    assert no_file.status_code == 409 and "no longer active" in no_file.get_json()["detail"]


class Killed(BaseException):
    """What a worker killed mid-job looks like to the database: it stops, and nothing after runs."""


def test_a_job_that_dies_half_way_is_resumed_and_each_row_is_imported_once(hub, engine, monkeypatch):
    answer = _post(hub.boss, _file(3_500, bad_every=700), background="true")
    batch_id = answer.get_json()["id"]
    [(claimed, first_job)] = engine.imports.claim_queued()
    assert claimed == batch_id

    def die(batch, rows_done):
        raise Killed()
    monkeypatch.setattr(import_jobs, "after_chunk", die)
    with pytest.raises(Killed):
        engine.run_import(batch_id, first_job)
    half = hub.boss.get(f"/api/imports/{batch_id}").get_json()
    assert (half["status"], half["rows_done"], half["total_rows"]) == ("running", 1_000, 3_500)
    assert _count(engine, customers) == 999  # the first chunk, committed with its progress
    assert hub.boss.post(f"/api/imports/{batch_id}/revert").status_code == 409

    # the worker is gone: its lease runs out, the sweep hands the batch to a new job, which resumes it
    monkeypatch.setattr(import_jobs, "after_chunk", lambda batch, rows_done: None)
    assert engine.imports.sweep(lambda job_ids: set()) == [], "the lease has not run out yet"
    [(again, second_job)] = engine.imports.sweep(lambda job_ids: set(), now=clock.now() + timedelta(minutes=5))
    assert again == batch_id and second_job != first_job
    assert engine.run_import(batch_id, first_job) is None, "the lost job may not write any more"
    shown, advance = [], engine.imports._advance

    def watched(batch, job, **values):  # what a poller sees while the new job checks the rows again
        shown.append(values.get("rows_checked"))
        return advance(batch, job, **values)
    monkeypatch.setattr(engine.imports, "_advance", watched)
    done = engine.run_import(batch_id, second_job)
    assert [n for n in shown if n is not None] and min(n for n in shown if n is not None) == 3_500, \
        "the progress stepped back while the rows were checked again"
    assert done["status"] == "applied" and done["rows_done"] == 3_500
    assert done["summary"] == {"total_rows": 3_500, "created": 3_495, "updated": 0, "unchanged": 0, "failed": 5}
    with engine.db.connect() as conn:
        names = [r.name for r in conn.execute(sa.select(customers.c.name))]
        created = conn.execute(sa.select(record_changes.c.entity_id, sa.func.count()).where(
            record_changes.c.action == "created").group_by(record_changes.c.entity_id)).all()
    assert len(names) == len(set(names)) == 3_495
    assert len(created) == 3_495 and {n for _, n in created} == {1}
    # and the whole batch reverts as one
    reverted = hub.boss.post(f"/api/imports/{batch_id}/revert")
    assert reverted.status_code == 200 and reverted.get_json()["deleted"] == 3_495
    assert _count(engine, customers) == 0


def test_a_batch_whose_jobs_keep_dying_ends_failed_with_the_reason(hub, engine):
    answer = _post(hub.boss, _file(10), background="true")
    batch_id = answer.get_json()["id"]
    assert engine.imports.claim_queued()
    later = clock.now()
    for attempt in range(engine.imports.policy.max_attempts):
        later += timedelta(minutes=5)
        handed = engine.imports.sweep(lambda job_ids: set(), now=later)
        assert len(handed) == (1 if attempt < engine.imports.policy.max_attempts - 1 else 0)
    batch = hub.boss.get(f"/api/imports/{batch_id}").get_json()
    assert batch["status"] == "failed" and "stopped 3 times" in batch["error"]
    assert _count(engine, import_files) == 0


def test_a_live_job_keeps_its_batch_when_its_lease_runs_out(hub, engine):
    answer = _post(hub.boss, _file(10), background="true")
    [(batch_id, job_id)] = engine.imports.claim_queued()
    assert engine.imports.sweep(lambda job_ids: set(job_ids), now=clock.now() + timedelta(minutes=5)) == []
    assert engine.run_import(batch_id, job_id)["status"] == "applied"
    assert answer.get_json()["id"] == batch_id


def test_reverting_a_batch_still_running_is_a_409_naming_it(hub, engine):
    answer = _post(hub.boss, _file(20), background="true")
    batch_id = answer.get_json()["id"]
    queued = hub.boss.post(f"/api/imports/{batch_id}/revert")
    assert queued.status_code == 409 and f"import {batch_id} is still queued" in queued.get_json()["detail"]
    [(_, job_id)] = engine.imports.claim_queued()
    running = hub.boss.post(f"/api/imports/{batch_id}/revert")
    assert running.status_code == 409 and f"import {batch_id} is still running" in running.get_json()["detail"]
    assert hub.boss.get(f"/api/imports/{batch_id}/errors.csv").status_code == 409
    engine.run_import(batch_id, job_id)
    assert hub.boss.get(f"/api/imports/{batch_id}/errors.csv").status_code == 200
    reverted = hub.boss.post(f"/api/imports/{batch_id}/revert")
    assert reverted.status_code == 200 and reverted.get_json()["deleted"] == 20


def test_a_file_refused_before_it_is_queued(hub, engine):
    unmapped = _post(hub.boss, _csv([["电话"], ["13812345678"]]), background="true")
    assert unmapped.status_code == 422 and "customer name" in unmapped.get_json()["detail"]
    bad_mode = _post(hub.boss, _file(3), background="true", mode="merge")
    assert bad_mode.status_code == 422
    assert hub.admin.get("/api/imports").get_json()["total"] == 0


def test_the_command_line_shows_a_batchs_status(hub, engine, monkeypatch):
    from followup.cli import main

    answer = _post(hub.boss, _file(30, bad_every=10), background="true")
    batch_id = answer.get_json()["id"]
    monkeypatch.setenv("DATABASE_URL", engine.settings.database_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(engine.settings.data_dir))
    queued = CliRunner().invoke(main, ["import", "status", str(batch_id)])
    assert queued.exit_code == 0, queued.output
    assert "queued" in queued.output and "0%" in queued.output
    run_due(engine)
    done = CliRunner().invoke(main, ["import", "status", str(batch_id)])
    assert "applied" in done.output and "100%" in done.output and "30 of 30 rows" in done.output
    assert "created 27" in done.output and "bad 3" in done.output
    missing = CliRunner().invoke(main, ["import", "status", "999"])
    assert missing.exit_code == 1


def test_a_real_rq_worker_runs_a_background_import_and_resumes_it_after_being_killed(engine, redis_url, tmp_path,
                                                                                      identity):
    from workers_support import Stack, wait_for

    if engine.db.dialect.name != "postgresql":
        pytest.skip("the worker guarantees are proven on PostgreSQL")
    seed_defaults(engine)
    identity.add_user("li", "agent", ["sales-east"])
    identity.add_user("boss", "supervisor", ["sales-east"])
    stack = Stack(engine, redis_url, tmp_path)
    stack.env.update(FOLLOWUP_IMPORT_LEASE="2")
    try:
        stack.scheduler()
        stack.worker("doomed")
        stack.wait_ready(schedulers=1, workers=["doomed"])
        batch = engine.imports.queue(_file(8_000), "客户.csv", actor="boss")

        def progress():
            return engine.imports.batch(batch["id"])
        wait_for(lambda: progress()["rows_done"] >= 1_000, 120, what="the first chunks")
        stack.kill("doomed")
        stalled = progress()
        assert stalled["status"] == "running" and stalled["rows_done"] < 8_000, stalled
        stack.worker("heir")
        try:
            final = wait_for(lambda: progress()["status"] not in ("queued", "running") and progress(), 180,
                             what="the import to end")
        except AssertionError:
            raise AssertionError(stack.logs()) from None
    finally:
        stack.close()
    assert final["status"] == "applied", (final, stack.logs())
    assert final["summary"]["created"] == 8_000 and final["rows_done"] == 8_000
    with engine.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count(sa.distinct(customers.c.name)))).scalar_one() == 8_000
        assert conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one() == 8_000



def test_the_row_estimate_that_picks_the_background_reads_no_cells():
    from openpyxl import Workbook

    from engine.customers.tabular import estimate_rows

    assert (estimate_rows(_file(2_500)), estimate_rows(b"a\n1\n2"), estimate_rows(b"")) == (2_500, 2, 0)
    for write_only in (False, True):  # with a <dimension>, and without (openpyxl's streaming writer)
        book = Workbook(write_only=write_only)
        sheet = book.create_sheet() if write_only else book.active
        for i in range(2_501):
            sheet.append([f"公司{i}", i])
        out = io.BytesIO()
        book.save(out)
        assert estimate_rows(out.getvalue()) == 2_500


def test_a_background_import_lands_rows_in_a_team_of_the_importer_as_a_synchronous_one_does(hub, engine):
    """The job rebuilds the importer's whole reach, the landing rule (issue 12 item 4) included: rows
    without a team take the one the owner shares with the importer; a row without owner or team is refused
    naming the 所属团队 column and the choices."""
    data = _csv([["客户名称", "负责人"], ["丙销售", "li"], ["丁无主", ""]])
    answer = _post(hub.boss, data, background="true")
    assert answer.status_code == 202, answer.get_json()
    run_due(engine, WorkerConfig())
    batch = hub.boss.get(answer.headers["Location"]).get_json()
    assert (batch["status"], batch["summary"]["created"], batch["summary"]["failed"]) == ("applied", 1, 1), batch
    error = batch["errors"][0]
    assert error["field"] == "team" and "sales-east, supervisors" in error["reason"] and "所属团队" in error["reason"]
    listed = {c["name"]: c for c in hub.boss.get("/api/customers").get_json()["items"]}
    assert listed["丙销售"]["team"] == "sales-east" and "丁无主" not in listed


def test_a_queued_import_cancelled_never_runs(hub, engine):
    answer = _post(hub.boss, _file(20), background="true")
    batch_id = answer.get_json()["id"]
    assert hub.chief.post(f"/api/imports/{batch_id}/cancel").status_code == 404   # another team's supervisor
    assert hub.li.post(f"/api/imports/{batch_id}/cancel").status_code == 403      # an agent
    cancelled = hub.boss.post(f"/api/imports/{batch_id}/cancel")
    assert cancelled.status_code == 200, cancelled.get_json()
    batch = cancelled.get_json()
    assert batch["status"] == "cancelled" and batch["error"] == "cancelled by boss before it wrote anything"
    assert _count(engine, import_files) == 0
    run_due(engine)
    assert hub.boss.get(f"/api/imports/{batch_id}").get_json()["status"] == "cancelled"
    assert _count(engine, customers) == 0
    again = hub.boss.post(f"/api/imports/{batch_id}/cancel")
    assert again.status_code == 409 and "already ended (cancelled)" in again.get_json()["detail"]


def test_a_running_import_cancelled_stops_before_its_next_chunk_and_reverts_as_one(hub, engine, monkeypatch):
    answer = _post(hub.boss, _file(3_500, bad_every=700), background="true")
    batch_id = answer.get_json()["id"]
    [(_, job_id)] = engine.imports.claim_queued()
    cancels = []

    def cancel_after_the_first_chunk(batch, rows_done):
        if not cancels:  # the supervisor presses cancel while the job writes
            cancels.append(hub.boss.post(f"/api/imports/{batch}/cancel"))
    monkeypatch.setattr(import_jobs, "after_chunk", cancel_after_the_first_chunk)
    assert engine.run_import(batch_id, job_id) is None, "the job stops: the batch is no longer its own"
    assert cancels[0].status_code == 200
    batch = hub.boss.get(f"/api/imports/{batch_id}").get_json()
    assert (batch["status"], batch["rows_done"], batch["total_rows"]) == ("cancelled", 1_000, 3_500)
    assert batch["error"] == "cancelled by boss after 1,000 of 3,500 rows; revert it to undo them"
    assert _count(engine, customers) == 999                    # the first chunk (one bad row), nothing after
    reverted = hub.boss.post(f"/api/imports/{batch_id}/revert")
    assert reverted.status_code == 200 and reverted.get_json()["deleted"] == 999
    assert _count(engine, customers) == 0


def test_an_import_that_has_ended_cannot_be_cancelled(hub, engine, monkeypatch):
    from followup.cli import main

    answer = _post(hub.boss, _file(5), background="true")
    batch_id = answer.get_json()["id"]
    run_due(engine)
    refused = hub.boss.post(f"/api/imports/{batch_id}/cancel")
    assert refused.status_code == 409
    assert refused.get_json()["detail"] == (f"import {batch_id} has already ended (applied): there is nothing to "
                                            "cancel; revert it to undo what it wrote")
    monkeypatch.setenv("DATABASE_URL", engine.settings.database_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(engine.settings.data_dir))
    queued = _post(hub.boss, _file(5, prefix="另一"), background="true").get_json()["id"]
    by_cli = CliRunner().invoke(main, ["import", "cancel", str(queued)])
    assert by_cli.exit_code == 0 and "cancelled by cli before it wrote anything" in by_cli.output
    ended = CliRunner().invoke(main, ["import", "cancel", str(batch_id)])
    assert ended.exit_code == 1 and "already ended" in ended.output


def test_in_the_embedded_mode_timers_fire_while_a_big_import_runs(hub, engine):
    """The in-process runner gives imports a thread of their own: a timer due during a long import fires on
    time instead of waiting for the import's end."""
    from conftest import bpmn_file
    from workers_support import fired_events

    engine.deploy([bpmn_file("timer_at.bpmn")])
    answer = _post(hub.boss, _file(30_000), background="true")
    location = answer.headers["Location"]
    # Started before the runner, so that nothing slows the start down: a start that took longer than the
    # timer's delay would pass the timer within the start itself (CI saw that with 0.3 s, under load).
    instance = engine.start("timer_at", "T-1", {"fire_at": (clock.now() + timedelta(seconds=2)).isoformat(),
                                                "hits": 0, "spin_n": 0})
    assert [t["element_id"] for t in engine.instance(instance)["timers"]] == ["wait"]
    runner = start_background(engine, WorkerConfig(sweep_every=0.1, tick=0.05))
    try:
        ended = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ({"fired", "imported"} <= ended.keys()):
            if "fired" not in ended and fired_events(engine):
                ended["fired"] = time.monotonic()
            if "imported" not in ended and hub.boss.get(location).get_json()["status"] not in ("queued", "running"):
                ended["imported"] = time.monotonic()
            time.sleep(0.02)
        alive, claimed = runner.running, runner.scheduler.claimed
    finally:
        runner.stop(timeout=60)
    assert hub.boss.get(location).get_json()["status"] == "applied"
    assert [e.instance_id for e in fired_events(engine)] == [instance], _why_not_fired(engine, instance, alive, claimed)
    assert ended["fired"] < ended["imported"], "the timer waited for the import to end"


def _why_not_fired(engine, instance_id, alive, claimed):
    """What a supervisor would look at when a timer did not fire: its row, the instance, the scheduler."""
    from workers_support import pending_timers

    with engine.db.connect() as conn:
        row = conn.execute(sa.select(instances.c.status, instances.c.incident)
                           .where(instances.c.id == instance_id)).first()
        events = conn.execute(sa.select(audit_events.c.action, audit_events.c.actor, audit_events.c.detail)
                              .where(audit_events.c.instance_id == instance_id)).all()
    timers = [{k: v for k, v in t._mapping.items() if k in ("due_at", "enqueued_at", "lease_until", "attempts",
                                                             "last_error", "job_id")} for t in pending_timers(engine)]
    return (f"scheduler thread alive: {alive}, timers claimed: {claimed}, now {clock.now().isoformat()}; "
            f"timers {timers}; instance {row}; events {events}")


def test_a_chunk_the_database_aborts_to_break_a_deadlock_is_written_again_once(hub, engine, monkeypatch):
    from engine.customers import importer

    class Deadlock(Exception):
        sqlstate = "40P01"  # what PostgreSQL says when it aborts one of two transactions waiting on each other

    real, calls = importer.write_rows, []

    def write_rows(conn, rows, *args):
        calls.append(len(rows))
        written = real(conn, rows, *args)  # written, then the transaction is aborted: nothing of it stays
        if len(calls) == 2:
            raise sa.exc.OperationalError("UPDATE customers ...", {}, Deadlock("deadlock detected"))
        return written
    monkeypatch.setattr(importer, "write_rows", write_rows)
    answer = _post(hub.boss, _file(2_500), background="true")
    run_due(engine)
    batch = hub.boss.get(answer.headers["Location"]).get_json()
    assert batch["status"] == "applied", batch["error"]
    assert calls == [1_000, 1_000, 1_000, 500]                 # the second chunk twice, the others once
    assert batch["summary"]["created"] == 2_500 and _count(engine, customers) == 2_500
