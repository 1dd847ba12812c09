"""Concurrent writers, with real threads on the real databases: one wins, nobody's update is lost."""
import threading

import pytest

from conftest import bpmn_file
from engine.errors import Conflict


def race(n, work):
    """Run `work(i)` in n threads released at the same moment; return (results, errors)."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as err:  # noqa: BLE001 - collected for the assertions
            errors[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_agents_racing_to_complete_one_task_exactly_one_wins(engine_each):
    engine = engine_each
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance = engine.instance(engine.start("first_contact", variables={"owner": "li"}))
    task_id = instance["tasks"][0]["id"]
    results, errors = race(6, lambda i: engine.complete_task(task_id, {"outcome": "reached", "note": f"agent {i}"},
                                                             actor=f"agent{i}"))
    winners = [i for i, e in enumerate(errors) if e is None]
    assert len(winners) == 1
    assert all(isinstance(e, Conflict) for i, e in enumerate(errors) if i not in winners)
    after = engine.instance(instance["id"])
    assert after["variables"]["note"] == f"agent {winners[0]}"
    assert [t["element_id"] for t in after["tasks"]] == ["qualify"]
    completions = [e for e in engine.events(instance["id"])[0] if e["action"] == "task_completed"]
    assert [e["actor"] for e in completions] == [f"agent{winners[0]}"]


def test_agents_racing_to_claim_one_task_exactly_one_wins(engine_each):
    engine = engine_each
    engine.deploy([bpmn_file("first_contact.bpmn")])
    task_id = engine.instance(engine.start("first_contact", variables={"owner": "li"}))["tasks"][0]["id"]
    results, errors = race(6, lambda i: engine.claim(task_id, f"agent{i}"))
    winners = [i for i, e in enumerate(errors) if e is None]
    assert len(winners) == 1
    assert all(isinstance(e, Conflict) for i, e in enumerate(errors) if i not in winners)
    assert engine.task(task_id)["assignee"] == f"agent{winners[0]}"


def test_two_tasks_of_one_instance_completed_at_once_both_count(engine_each):
    """Parallel branches: both completions land (the second is retried on a fresh load), none is lost."""
    engine = engine_each
    engine.deploy([bpmn_file("parallel_review.bpmn")])
    for _ in range(5):
        instance = engine.instance(engine.start("parallel_review"))
        tasks = {t["element_id"]: t["id"] for t in instance["tasks"]}
        assert set(tasks) == {"sales_review", "service_review"}
        order = ["sales_review", "service_review"]
        results, errors = race(2, lambda i: engine.complete_task(tasks[order[i]], {f"{order[i]}_ok": True},
                                                                 actor=f"agent{i}"))
        assert errors == [None, None]
        done = engine.instance(instance["id"])
        assert done["status"] == "complete"
        assert done["variables"]["sales_review_ok"] is True and done["variables"]["service_review_ok"] is True


def test_a_claim_racing_a_completion_never_leaves_a_completed_task_claimed(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    for _ in range(5):
        instance = engine.instance(engine.start("first_contact", variables={"owner": "li"}))
        task_id = instance["tasks"][0]["id"]
        work = [lambda: engine.complete_task(task_id, {"outcome": "reached"}, actor="wang"),
                lambda: engine.claim(task_id, "zhao")]
        results, errors = race(2, lambda i: work[i]())
        assert sum(e is None for e in errors) >= 1
        completed = errors[0] is None
        if completed:
            assert [t["element_id"] for t in engine.instance(instance["id"])["tasks"]] == ["qualify"]
        else:  # zhao's claim landed first, so wang may not complete it
            assert isinstance(errors[0], Conflict)
            assert engine.task(task_id)["assignee"] == "zhao"


@pytest.mark.parametrize("n", [8])
def test_many_instances_completed_in_parallel_all_progress(engine, n):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instances = [engine.instance(engine.start("first_contact", variables={"owner": "li"})) for _ in range(n)]
    results, errors = race(n, lambda i: engine.complete_task(instances[i]["tasks"][0]["id"], {"outcome": "reached"},
                                                             actor="wang"))
    assert errors == [None] * n
    assert all(engine.instance(i["id"])["tasks"][0]["element_id"] == "qualify" for i in instances)
