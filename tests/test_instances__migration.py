"""Changing an SOP while it runs (issue 15): a dry run that says what would happen to each running
instance, a migration in batches that moves them (or leaves them as they are, saying why), and the
repair of one stuck instance. Driven through the API as a designer and a supervisor would."""
import threading
from datetime import timedelta

from click.testing import CliRunner

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from engine import clock

V1 = "migration/v1.bpmn"


def _tasks(caller, instance_id):
    return {t["element_id"]: t for t in caller.get(f"/api/instances/{instance_id}").get_json()["tasks"]}


def _migrate(team, engine, to_version, **body):
    """Start a migration as the designer, let the scheduler's hand-off run it, answer the finished batch."""
    answer = team.designer.post("/api/definitions/review_flow/migrations", json={"to_version": to_version, **body})
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["status"] == "queued"
    for batch_id in engine.migrations.claim_queued():  # what the scheduler does on its sweep
        engine.migrations.run(batch_id)
    done = team.designer.get(f"/api/migrations/{answer.get_json()['id']}")
    assert done.status_code == 200
    return done.get_json()


def _running_on_v1(team, count=1):
    assert team.designer.deploy(V1).status_code == 201
    return [start(team.chief, "review_flow", f"C-{i}") for i in range(count)]


def test_a_task_added_after_the_token_is_reached_after_the_move_and_the_claim_is_kept(team, engine):
    [instance] = _running_on_v1(team)
    review = _tasks(team.sam, instance["id"])["review"]
    assert team.sam.post(f"/api/tasks/{review['id']}/claim").status_code == 200
    assert team.designer.deploy("migration/added_after.bpmn").get_json()["processes"][0]["version"] == 2

    plan = team.designer.post("/api/definitions/review_flow/migrations/dry-run", json={"to_version": 2})
    assert plan.status_code == 200
    [item] = plan.get_json()["instances"]
    assert item["can_migrate"] and item["tokens"] == ["review", "review_due"] and item["from_version"] == 1
    assert [t["result"] for t in item["tasks"]] == ["kept"]
    assert [t["result"] for t in item["timers"]] == ["kept"]
    assert engine.instance(instance["id"])["version"] == 1  # the dry run changed nothing

    versions = {v["version"]: v["running"] for v in team.designer.get("/api/definitions/review_flow/versions").get_json()}
    assert versions == {2: 0, 1: 1}

    batch = _migrate(team, engine, 2)
    assert (batch["status"], batch["total"], batch["migrated"], batch["skipped"]) == ("done", 1, 1, 0)
    moved = engine.instance(instance["id"])
    assert moved["version"] == 2
    [task] = moved["tasks"]
    assert (task["id"], task["assignee"]) == (review["id"], "sam")  # same task, still sam's
    assert moved["timers"][0]["due_at"].isoformat() == instance["timers"][0]["due_at"]  # the deadline did not move
    events = team.designer.get(f"/api/instances/{instance['id']}/events").get_json()["items"]
    migrated = [e for e in events if e["action"] == "migrated"]
    assert migrated and migrated[0]["detail"]["from_version"] == 1 and migrated[0]["detail"]["to_version"] == 2

    done = team.sam.post(f"/api/tasks/{review['id']}/complete", json={"variables": {"severity": "low"}})
    assert done.status_code == 200
    assert [t["element_id"] for t in done.get_json()["next_tasks"]] == ["followup"]  # the new step is reached

    again = _migrate(team, engine, 2)  # safe twice: nothing left to move
    assert (again["total"], again["migrated"]) == (0, 0)


def test_an_instance_waiting_at_a_removed_element_stays_as_it_is_unless_mapped(team, engine):
    [instance] = _running_on_v1(team)
    review = _tasks(team.sam, instance["id"])["review"]
    assert team.sam.post(f"/api/tasks/{review['id']}/claim").status_code == 200
    team.designer.deploy("migration/renamed.bpmn")  # review is now called check

    plan = team.designer.post("/api/definitions/review_flow/migrations/dry-run", json={"to_version": 2})
    [item] = plan.get_json()["instances"]
    assert not item["can_migrate"] and "review" in item["reason"] and "review=" in item["reason"]
    batch = _migrate(team, engine, 2)
    assert (batch["migrated"], batch["skipped"]) == (0, 1)
    assert "review" in batch["outcomes"][0]["reason"]
    assert engine.instance(instance["id"])["version"] == 1  # untouched

    batch = _migrate(team, engine, 2, map={"review": "check"})
    assert (batch["migrated"], batch["skipped"]) == (1, 0)
    [task] = engine.instance(instance["id"])["tasks"]
    assert (task["id"], task["element_id"], task["name"], task["assignee"]) == (
        review["id"], "check", "Check the complaint", "sam")
    assert team.sam.get("/api/tasks?scope=mine").get_json()["items"][0]["element_id"] == "check"
    assert team.sam.post(f"/api/tasks/{review['id']}/complete", json={"variables": {"severity": "high"}}).status_code == 200
    assert engine.instance(instance["id"])["status"] == "complete"


def test_a_changed_timer_counts_again_from_the_migration_an_unchanged_one_keeps_its_time(team, engine):
    [instance] = _running_on_v1(team)
    old_due = engine.instance(instance["id"])["timers"][0]["due_at"]
    clock.advance(timedelta(hours=1))
    team.designer.deploy("migration/timer_changed.bpmn")  # PT4H -> PT8H
    plan = team.designer.post("/api/definitions/review_flow/migrations/dry-run", json={"to_version": 2})
    [timer] = plan.get_json()["instances"][0]["timers"]
    assert timer["result"] == "recounted"
    _migrate(team, engine, 2)
    moved = engine.instance(instance["id"])
    recounted = moved["timers"][0]["due_at"] - old_due  # now (+1 h) + 8 h, where it was start + 4 h
    assert timedelta(hours=5) <= recounted < timedelta(hours=5, minutes=1)
    assert moved["tasks"][0]["due_at"] == moved["timers"][0]["due_at"]  # the task row says the new deadline


def test_a_subprocess_added_after_the_token_runs_after_the_move(team, engine):
    [instance] = _running_on_v1(team)
    review = _tasks(team.sam, instance["id"])["review"]
    team.designer.deploy("migration/subprocess_added.bpmn")
    _migrate(team, engine, 2)
    done = team.sam.post(f"/api/tasks/{review['id']}/complete", json={"variables": {"severity": "low"}})
    assert [t["element_id"] for t in done.get_json()["next_tasks"]] == ["visit_task"]


def test_agents_completing_tasks_while_a_batch_runs_lose_nothing(team, engine):
    instances = _running_on_v1(team, count=12)
    team.designer.deploy("migration/added_after.bpmn")
    batch_id = team.designer.post("/api/definitions/review_flow/migrations",
                                  json={"to_version": 2}).get_json()["id"]
    engine.migrations.claim_queued()
    tasks = [_tasks(team.sam, i["id"])["review"]["id"] for i in instances[::2]]
    errors = []

    def agent():
        for task_id in tasks:
            answer = team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": {"severity": "low"}})
            if answer.status_code != 200:
                errors.append(answer.get_json())

    worker = threading.Thread(target=agent)
    worker.start()
    batch = engine.migrations.run(batch_id)
    worker.join()
    assert errors == []
    assert batch["skipped"] == 0 and batch["total"] == 12
    for index, instance in enumerate(instances):
        described = engine.instance(instance["id"])
        waits_at = {t["element_id"] for t in described["tasks"]}
        if index % 2:  # not touched by the agent: moved, still at review
            assert (described["version"], waits_at) == (2, {"review"})
        else:  # completed before its move (the old path: ended on v1) or after it (the new step is open)
            assert (described["version"], described["status"], waits_at) in (
                (1, "complete", set()), (2, "user_input", {"followup"}))


def test_only_designers_and_admins_migrate(team):
    _running_on_v1(team)
    for caller in (team.sam, team.chief):
        assert caller.post("/api/definitions/review_flow/migrations/dry-run", json={"to_version": 1}).status_code == 403
        assert caller.post("/api/definitions/review_flow/migrations", json={"to_version": 1}).status_code == 403
    assert team.admin.post("/api/definitions/review_flow/migrations/dry-run", json={"to_version": 7}).status_code == 404


def test_a_supervisor_repairs_a_stuck_instance_by_skipping_or_moving_its_token(team, engine):
    first, second = _running_on_v1(team, count=2)
    skipped = team.chief.post(f"/api/instances/{first['id']}/repair",
                              json={"action": "skip", "element_id": "review", "reason": "客户已电话确认"})
    assert skipped.status_code == 200, skipped.get_json()
    assert skipped.get_json()["status"] == "complete"
    events = team.chief.get(f"/api/instances/{first['id']}/events").get_json()["items"]
    repair = [e for e in events if e["action"] == "repaired_skip"][0]
    assert (repair["actor"], repair["detail"]["reason"]) == ("chief", "客户已电话确认")

    moved = team.chief.post(f"/api/instances/{second['id']}/repair",
                            json={"action": "move", "element_id": "review", "to_element_id": "noted",
                                  "reason": "wrong branch"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "complete" and moved.get_json()["tasks"] == []

    third = start(team.chief, "review_flow", "C-9")
    not_there = team.chief.post(f"/api/instances/{third['id']}/repair",
                                json={"action": "skip", "element_id": "end", "reason": "x"})
    assert not_there.status_code == 409 and "end" in not_there.get_json()["detail"]
    assert team.sam.post(f"/api/instances/{third['id']}/repair",
                         json={"action": "skip", "element_id": "review", "reason": "x"}).status_code == 403
    assert team.boss.post(f"/api/instances/{third['id']}/repair",  # another team's supervisor
                          json={"action": "skip", "element_id": "review", "reason": "x"}).status_code == 404
    assert team.chief.post(f"/api/instances/{third['id']}/repair",
                           json={"action": "skip", "element_id": "review"}).status_code == 422  # no reason
    assert engine.instance(third["id"])["tasks"][0]["element_id"] == "review"  # nothing changed by those


def test_the_command_line_dry_run_and_migration(team, engine, monkeypatch):
    from followup.cli import main

    [instance] = _running_on_v1(team)
    team.designer.deploy("migration/renamed.bpmn")
    monkeypatch.setenv("DATABASE_URL", engine.settings.database_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(engine.settings.data_dir))
    runner = CliRunner()
    dry = runner.invoke(main, ["instances", "migrate", "review_flow", "--to-version", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "CANNOT move" in dry.output and "0 of 1" in dry.output
    moved = runner.invoke(main, ["instances", "migrate", "review_flow", "--to-version", "2", "--map", "review=check"])
    assert moved.exit_code == 0, moved.output
    assert "1 moved, 0 left as they are" in moved.output
    engine.definitions.clear_caches()
    assert engine.instance(instance["id"])["version"] == 2


def test_an_element_removed_further_ahead_of_the_token_does_not_stop_the_move(team, engine):
    assert team.designer.deploy("migration/three_steps.bpmn").status_code == 201  # review -> followup -> close
    instance = start(team.chief, "review_flow", "C-3")
    team.designer.deploy("migration/added_after.bpmn")  # close is gone; review and followup are the same
    batch = _migrate(team, engine, 2)
    assert (batch["migrated"], batch["skipped"]) == (1, 0), batch["outcomes"]
    review = _tasks(team.sam, instance["id"])["review"]
    team.sam.post(f"/api/tasks/{review['id']}/complete", json={"variables": {"severity": "low"}})
    followup = _tasks(team.sam, instance["id"])["followup"]
    done = team.sam.post(f"/api/tasks/{followup['id']}/complete", json={"variables": {}})
    assert done.get_json()["instance_status"] == "complete"
