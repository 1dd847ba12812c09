"""Issue 11, errors that became 500s: every bad input gets a 4xx naming the problem and nothing is stored;
every failure inside engine steps becomes an incident naming the element, the instance readable after."""
import io
import json

import pytest

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from hostile_support import HEAD, script_process, user_then_script_process


def _deploy(caller, *files):
    response = caller.post("/api/deployments", data={"files": [(io.BytesIO(content), name) for name, content in files]},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()


def _nested(depth):
    return "[" * depth + "]" * depth


def _instances_total(caller):
    return caller.get("/api/instances").get_json()["total"]


def _raw_start(caller, variables_text):
    body = '{"process_key": "plain", "variables": {"deep": ' + variables_text + "}}"
    return caller.post("/api/instances", data=body.encode("utf-8", "surrogatepass"),
                       content_type="application/json")


@pytest.fixture
def plain(team):
    _deploy(team.designer, script_process("plain", "y = 1"))
    return team


@pytest.mark.parametrize("depth", [40, 500, 100_000])
def test_deeply_nested_variables_are_refused_naming_the_limit(plain, depth):
    response = _raw_start(plain.li, _nested(depth))
    assert response.status_code == 400
    assert "32 levels" in response.get_json()["detail"]
    assert _instances_total(plain.admin) == 0


def test_nesting_within_the_limit_is_accepted(plain):
    response = _raw_start(plain.li, _nested(20))
    assert response.status_code == 201


def test_a_huge_json_body_is_413_naming_the_limit(plain):
    body = json.dumps({"process_key": "plain", "variables": {"blob": "x" * (2 * 1024 * 1024)}})
    response = plain.li.post("/api/instances", data=body, content_type="application/json")
    assert response.status_code == 413 and "FOLLOWUP_MAX_JSON_BYTES" in response.get_json()["detail"]


@pytest.mark.parametrize("text, word", [('"\\ud800"', "surrogate"), ('"a\\u0000b"', "NUL"),
                                        ('{"x\\u0000": 1}', "NUL"), ('["ok", "\\udfff tail"]', "surrogate")])
def test_lone_surrogates_and_nul_are_refused(plain, text, word):
    response = _raw_start(plain.li, text)
    assert response.status_code == 422 and word in response.get_json()["detail"]
    assert _instances_total(plain.admin) == 0


@pytest.mark.parametrize("name", ["timer_value", "now", "notify", "datetime", "len"])
def test_reserved_variable_names_are_refused_at_start(plain, name):
    response = plain.li.post("/api/instances", json={"process_key": "plain", "variables": {name: "x"}})
    assert response.status_code == 422
    assert name in response.get_json()["errors"] and "reserved" in response.get_json()["detail"]
    assert _instances_total(plain.admin) == 0


def test_reserved_variable_names_are_refused_at_completion_and_in_messages(team):
    _deploy(team.designer, user_then_script_process("two_steps", "y = 1"))
    instance = start(team.li, "two_steps", "B-7")
    task_id = instance["tasks"][0]["id"]
    response = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"timer_value": "PT0S"}})
    assert response.status_code == 422 and "timer_value" in response.get_json()["errors"]
    assert team.li.get(f"/api/instances/{instance['id']}").get_json()["tasks"][0]["id"] == task_id  # still open
    team.designer.deploy("message_wait.bpmn")
    waiting = start(team.li, "message_wait", "B-8")
    response = team.admin.post("/api/messages", json={"name": "customer_replied", "business_key": "B-8",
                                                     "variables": {"notify": 1}})
    assert response.status_code == 422 and "notify" in response.get_json()["errors"]
    assert team.li.get(f"/api/instances/{waiting['id']}").get_json()["status"] == "waiting"


@pytest.mark.parametrize("script, words", [
    ("x = []\nfor i in range(500):\n    x = [x]", ["32 levels"]),
    ("g = (n for n in [1])", ["cannot be stored", "generator"]),
    ("s = {1, 2}\nbad = 'a\\x00b'", ["NUL"]),
])
def test_a_script_leaving_an_unstorable_value_is_an_incident_and_the_last_good_state_is_kept(team, script, words):
    _deploy(team.designer, user_then_script_process("unstorable", script))
    instance = start(team.li, "unstorable", "B-9", note="kept")
    task_id = instance["tasks"][0]["id"]
    response = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"answer": 42}})
    assert response.status_code == 200
    shown = team.boss.get(f"/api/instances/{instance['id']}")
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["status"] == "error" and body["incident"]["element_id"] == "run"
    for word in words:
        assert word in body["incident"]["message"]
    assert body["variables"].get("note") == "kept" and "answer" not in body["variables"]  # the state before
    assert team.boss.get(f"/api/instances/{instance['id']}/events").status_code == 200
    assert team.boss.post(f"/api/instances/{instance['id']}/cancel", json={}).status_code == 200


def _boundary(key, kind, body):
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait" />
<bpmn:userTask id="wait" name="Wait" camunda:candidateGroups="sales-east" />
<bpmn:boundaryEvent id="late" attachedToRef="wait">
<bpmn:timerEventDefinition><bpmn:{kind}>{body}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:sequenceFlow id="f2" sourceRef="late" targetRef="ticked" /><bpmn:endEvent id="ticked" />
<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def test_plain_python_errors_in_engine_steps_become_incidents_naming_the_element(team):
    _deploy(team.designer, _boundary("overflow", "timeDuration", "P9999Y"))
    response = team.li.post("/api/instances", json={"process_key": "overflow", "variables": {}})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "error" and body["incident"]["element_id"] == "late"
    assert "OverflowError" in body["incident"]["message"]
    assert team.boss.get(f"/api/instances/{body['id']}").status_code == 200


def test_a_camunda_cardinality_that_is_a_list_runs_once_per_item_not_a_500(team):
    """Camunda Modeler users write ${items} as the cardinality: one instance per item (issue 14), never a 500."""
    from hostile_support import multi_instance_process
    _deploy(team.designer, multi_instance_process("listed", "items"))
    response = team.li.post("/api/instances", json={"process_key": "listed", "variables": {"items": [1, 2]}})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] != "error", body["incident"]
