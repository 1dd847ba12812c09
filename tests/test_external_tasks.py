"""External tasks as a worker author meets them: a service task whose topic is no built-in operation waits
for a worker; fetch-and-lock gives each task to one worker; complete, failure, BPMN error, lock extension
and release behave as in Camunda 7."""
import threading
from datetime import timedelta

import pytest
from conftest import BPMN_DIR

from engine import clock
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.identity import User
from engine.instances.external_tasks import LockLost

TOPIC = [{"topic": "charge-card", "lock_duration": 60_000}]


@pytest.fixture
def charge(engine):
    engine.deploy([("invoice.bpmn", (BPMN_DIR / "camunda" / "invoice_external.bpmn").read_bytes())])
    return engine


def _fetch(engine, worker="w1", topics=TOPIC, max_tasks=10):
    return engine.fetch_and_lock(None, worker, max_tasks, topics)


def test_the_instance_waits_at_the_external_task_with_its_variables_and_inputs(charge):
    instance_id = charge.start("charge_card", business_key="order-1", variables={"amount": 30})
    assert charge.instance(instance_id)["status"] == "waiting"
    [task] = _fetch(charge)
    assert task["instance_id"] == instance_id and task["element_id"] == "charge"
    assert task["business_key"] == "order-1" and task["priority"] == 5
    assert task["variables"] == {"amount": 30, "currency": "EUR"}  # the input parameter is local to the task
    assert task["worker_id"] == "w1" and task["lock_expires_at"] > clock.now() + timedelta(seconds=50)


def test_only_the_requested_variables_are_handed_over(charge):
    charge.start("charge_card", variables={"amount": 30, "card": "4111"})
    [task] = _fetch(charge, topics=[{"topic": "charge-card", "lock_duration": 1000, "variables": ["amount"]}])
    assert task["variables"] == {"amount": 30}


def test_a_locked_task_is_not_fetched_again_until_its_lock_expires(charge):
    charge.start("charge_card")
    assert len(_fetch(charge, "w1")) == 1
    assert _fetch(charge, "w2") == []
    clock.advance(timedelta(seconds=61))
    [task] = _fetch(charge, "w2")
    assert task["worker_id"] == "w2"


def test_complete_moves_the_instance_on_with_the_workers_variables(charge):
    instance_id = charge.start("charge_card", variables={"amount": 30})
    [task] = _fetch(charge)
    charge.complete_external_task(None, task["id"], "w1", {"charged": True})
    instance = charge.instance(instance_id)
    assert instance["status"] == "user_input" and [t["element_id"] for t in instance["tasks"]] == ["check_payment"]
    assert instance["variables"] == {"amount": 30, "charged": True}
    assert charge.list_external_tasks(None, instance_id=instance_id) == []
    with pytest.raises(NotFound):
        charge.complete_external_task(None, task["id"], "w1", {})


def test_a_worker_whose_lock_was_lost_cannot_complete(charge):
    instance_id = charge.start("charge_card")
    [task] = _fetch(charge, "w1")
    with pytest.raises(LockLost, match="locked by worker 'w1'"):
        charge.complete_external_task(None, task["id"], "w2", {})
    clock.advance(timedelta(seconds=61))
    _fetch(charge, "w2")
    with pytest.raises(LockLost):
        charge.complete_external_task(None, task["id"], "w1", {"charged": True})
    charge.complete_external_task(None, task["id"], "w2", {"charged": False})
    assert charge.instance(instance_id)["variables"] == {"charged": False}


def test_an_unlocked_task_cannot_be_completed_before_it_is_fetched(charge):
    charge.start("charge_card")
    [task] = charge.list_external_tasks(None)
    with pytest.raises(LockLost, match="not locked"):
        charge.complete_external_task(None, task["id"], "w1", {})


def test_failure_with_retries_makes_the_task_fetchable_after_the_timeout(charge):
    charge.start("charge_card")
    [task] = _fetch(charge)
    assert charge.fail_external_task(None, task["id"], "w1", "gateway down", "stack", retries=2,
                                     retry_timeout=5000) is None
    assert _fetch(charge, "w2") == []
    clock.advance(timedelta(seconds=6))
    [again] = _fetch(charge, "w2")
    assert again["retries"] == 2 and again["error_message"] == "gateway down" and again["error_details"] == "stack"


def test_failure_without_retries_is_an_incident_naming_the_element_and_retry_runs_it_again(charge):
    instance_id = charge.start("charge_card")
    [task] = _fetch(charge)
    charge.fail_external_task(None, task["id"], "w1", "card service gone", "trace", retries=0)
    instance = charge.instance(instance_id)
    assert instance["status"] == "error" and instance["incident"]["element_id"] == "charge"
    assert "card service gone" in instance["incident"]["message"]
    assert _fetch(charge) == []
    charge.retry(instance_id)
    assert charge.instance(instance_id)["status"] == "waiting"
    [fresh] = _fetch(charge)
    assert fresh["retries"] is None


def test_a_bpmn_error_is_caught_by_the_boundary_event_with_its_code(charge):
    instance_id = charge.start("charge_card")
    [task] = _fetch(charge)
    charge.bpmn_error_external_task(None, task["id"], "w1", "CARD_DECLINED", "insufficient funds",
                                    {"reason": "funds"})
    instance = charge.instance(instance_id)
    assert [t["element_id"] for t in instance["tasks"]] == ["call_customer"]
    assert instance["variables"]["reason"] == "funds"


def test_a_bpmn_error_no_event_catches_is_an_incident(charge):
    instance_id = charge.start("charge_card")
    [task] = _fetch(charge)
    charge.bpmn_error_external_task(None, task["id"], "w1", "FRAUD")
    instance = charge.instance(instance_id)
    assert instance["status"] == "error" and "FRAUD" in instance["incident"]["message"]
    assert instance["incident"]["element_id"] == "charge"


def test_extend_lock_is_for_the_holder_and_unlock_frees_the_task(charge):
    charge.start("charge_card")
    [task] = _fetch(charge, "w1")
    with pytest.raises(LockLost):
        charge.extend_external_lock(None, task["id"], "w2", 60_000)
    charge.extend_external_lock(None, task["id"], "w1", 600_000)
    clock.advance(timedelta(seconds=120))
    assert _fetch(charge, "w2") == []
    charge.unlock_external_task(None, task["id"])
    assert [t["worker_id"] for t in _fetch(charge, "w2")] == ["w2"]


def test_bad_worker_input_is_refused_naming_the_field(charge):
    with pytest.raises(InvalidInput, match="lockDuration"):
        charge.fetch_and_lock(None, "w1", 1, [{"topic": "charge-card", "lock_duration": 0}])
    with pytest.raises(InvalidInput, match="workerId"):
        charge.fetch_and_lock(None, "", 1, TOPIC)


def test_a_suspended_instances_task_is_not_fetched(charge):
    instance_id = charge.start("charge_card")
    charge.suspend(instance_id)
    assert _fetch(charge) == []
    charge.resume(instance_id)
    assert len(_fetch(charge)) == 1


def test_agents_may_not_work_external_tasks(charge):
    with pytest.raises(Forbidden):
        charge.fetch_and_lock(User(1, "ann", "agent", frozenset({"sales"})), "w1", 1, TOPIC)


def test_higher_priority_first_and_max_tasks_is_respected(charge):
    for n in range(3):
        charge.start("charge_card", business_key=f"o-{n}")
    assert len(_fetch(charge, max_tasks=2)) == 2
    assert len(_fetch(charge, "w2", max_tasks=5)) == 1


def test_two_workers_racing_for_the_same_topic_each_lock_different_tasks(engine_each):
    engine = engine_each
    engine.deploy([("invoice.bpmn", (BPMN_DIR / "camunda" / "invoice_external.bpmn").read_bytes())])
    for n in range(20):
        engine.start("charge_card", business_key=f"o-{n}")
    got, errors = {}, []
    barrier = threading.Barrier(4)

    def work(worker):
        try:
            barrier.wait()
            mine = []
            while True:
                batch = engine.fetch_and_lock(None, worker, 3, TOPIC)
                if not batch:
                    break
                mine += [t["id"] for t in batch]
            got[worker] = mine
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    locked = [task_id for ids in got.values() for task_id in ids]
    assert len(locked) == 20 and len(set(locked)) == 20  # each task locked by exactly one worker
    owners = {t["id"]: t["worker_id"] for t in engine.list_external_tasks(None)}
    assert all(owners[task_id] == worker for worker, ids in got.items() for task_id in ids)


def test_complete_racing_an_expired_lock_taken_over_has_one_winner(engine_each):
    engine = engine_each
    engine.deploy([("invoice.bpmn", (BPMN_DIR / "camunda" / "invoice_external.bpmn").read_bytes())])
    instance_id = engine.start("charge_card")
    [task] = engine.fetch_and_lock(None, "w1", 1, TOPIC)
    clock.advance(timedelta(seconds=61))
    engine.fetch_and_lock(None, "w2", 1, TOPIC)
    outcomes = []
    for worker in ("w1", "w2"):
        try:
            engine.complete_external_task(None, task["id"], worker, {"by": worker})
            outcomes.append(worker)
        except Conflict:
            outcomes.append("refused")
    assert outcomes == ["refused", "w2"]
    assert engine.instance(instance_id)["variables"] == {"by": "w2"}


TIMEOUT_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="slow_worker" isExecutable="true">
    <bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="slow" />
    <bpmn:boundaryEvent id="too_slow" attachedToRef="work">
      <bpmn:timerEventDefinition id="t"><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done" /><bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="too_slow" targetRef="escalate" />
    <bpmn:userTask id="escalate" name="Escalate" />
    <bpmn:sequenceFlow id="f4" sourceRef="escalate" targetRef="late" /><bpmn:endEvent id="late" />
  </bpmn:process>
</bpmn:definitions>"""


def test_an_interrupting_timer_takes_the_task_from_its_worker(engine):
    engine.deploy([("slow.bpmn", TIMEOUT_BPMN)])
    instance_id = engine.start("slow_worker")
    [task] = engine.fetch_and_lock(None, "w1", 1, [{"topic": "slow", "lock_duration": 7_200_000}])
    clock.advance(timedelta(hours=1, seconds=1))
    engine.fire_due_timers()
    instance = engine.instance(instance_id)
    assert [t["element_id"] for t in instance["tasks"]] == ["escalate"]
    assert engine.list_external_tasks(None, instance_id=instance_id) == []
    with pytest.raises(NotFound):
        engine.complete_external_task(None, task["id"], "w1", {"done": True})
