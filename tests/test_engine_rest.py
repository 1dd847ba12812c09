"""The Camunda 7 REST subset as a Camunda client sees it: paths, status codes (204 where Camunda answers
204), typed variables, date format, error bodies {type, message}, and the same users and rights as /api."""
import base64
import io
import re
from datetime import timedelta

import pytest
from api_fixtures import *  # noqa: F401,F403
from conftest import BPMN_DIR

from engine import clock

R = "/engine-rest"
CAMUNDA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
INVOICE = BPMN_DIR / "camunda" / "invoice_external.bpmn"


def _deploy(caller, path=INVOICE):
    return caller.post(f"{R}/deployment/create", data={"deployment-name": "d", "data": (io.BytesIO(path.read_bytes()), path.name)},
                       content_type="multipart/form-data")


@pytest.fixture
def worker(make_user):
    return make_user("worker", "supervisor", ["sales"])


@pytest.fixture
def deployed(team):
    response = _deploy(team.designer)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _start(caller, key="charge_card", **variables):
    response = caller.post(f"{R}/process-definition/key/{key}/start",
                           json={"businessKey": "order-1", "variables": variables, "withVariablesInReturn": True})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _fetch(caller, worker_id="w1", **topic):
    response = caller.post(f"{R}/external-task/fetchAndLock", json={
        "workerId": worker_id, "maxTasks": 5, "usePriority": True,
        "topics": [{"topicName": "charge-card", "lockDuration": 60000, **topic}]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_deploy_answers_camundas_deployment_with_its_definitions(deployed):
    [(definition_id, definition)] = deployed["deployedProcessDefinitions"].items()
    assert definition_id.startswith("charge_card:1:") and definition["key"] == "charge_card"
    assert CAMUNDA_DATE.match(deployed["deploymentTime"])


def test_a_bad_file_is_a_400_with_camundas_error_shape(team):
    response = team.designer.post(f"{R}/deployment/create", data={"f": (io.BytesIO(b"<nope/>"), "x.bpmn")},
                                  content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["type"] == "ParseException"
    assert "x.bpmn" in response.get_json()["message"]


def test_agents_may_not_deploy(team):
    response = _deploy(team.li)
    assert response.status_code == 403 and response.get_json()["type"] == "AuthorizationException"


def test_no_or_bad_credentials_are_401_and_basic_with_user_name_and_token_works(client, worker, deployed):
    assert client.get(f"{R}/process-definition").status_code == 401
    basic = base64.b64encode(f"worker:{worker.token}".encode()).decode()
    assert client.get(f"{R}/process-definition", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = base64.b64encode(f"someone:{worker.token}".encode()).decode()
    response = client.get(f"{R}/process-definition", headers={"Authorization": f"Basic {wrong}"})
    assert response.status_code == 401 and response.get_json()["type"] == "AuthenticationException"


def test_process_definitions_list_and_start_with_typed_variables(deployed, worker):
    [definition] = worker.get(f"{R}/process-definition?key=charge_card").get_json()
    assert definition["id"].startswith("charge_card:1:") and definition["version"] == 1
    started = _start(worker, amount={"value": 30, "type": "Integer"}, note={"value": "hi", "type": "String"})
    assert started["definitionId"] == definition["id"] and started["businessKey"] == "order-1"
    assert started["ended"] is False and started["suspended"] is False
    assert started["variables"]["amount"] == {"type": "Integer", "value": 30, "valueInfo": {}}


def test_a_bad_typed_variable_names_itself(deployed, worker):
    response = worker.post(f"{R}/process-definition/key/charge_card/start",
                           json={"variables": {"amount": {"value": "lots", "type": "Integer"}}})
    assert response.status_code == 400 and "amount" in response.get_json()["message"]


def test_external_task_round_trip_answers_exactly_204(deployed, worker):
    instance = _start(worker, amount={"value": 30, "type": "Integer"})
    [task] = _fetch(worker)
    assert task["topicName"] == "charge-card" and task["processInstanceId"] == instance["id"]
    assert task["activityId"] == "charge" and task["workerId"] == "w1" and task["priority"] == 5
    assert task["businessKey"] == "order-1" and task["processDefinitionKey"] == "charge_card"
    assert CAMUNDA_DATE.match(task["lockExpirationTime"])
    assert task["variables"]["amount"] == {"type": "Integer", "value": 30, "valueInfo": {}}
    assert task["variables"]["currency"]["value"] == "EUR"
    assert task["extensionProperties"] == {"gateway": "stripe"}
    assert _fetch(worker, "w2") == []
    response = worker.post(f"{R}/external-task/{task['id']}/extendLock", json={"workerId": "w1", "newDuration": 1000})
    assert response.status_code == 204 and response.data == b""
    response = worker.post(f"{R}/external-task/{task['id']}/complete",
                           json={"workerId": "w1", "variables": {"charged": {"value": True, "type": "Boolean"},
                                                                 "receipt": {"value": '{"n": 7}', "type": "Json"}}})
    assert response.status_code == 204 and response.data == b""
    variables = worker.get(f"{R}/process-instance/{instance['id']}/variables").get_json()
    assert variables["charged"] == {"type": "Boolean", "value": True, "valueInfo": {}}
    assert variables["receipt"]["type"] == "Json" and variables["receipt"]["value"] == '{"n": 7}'


def test_another_workers_complete_is_camundas_400_and_a_gone_task_is_404(deployed, worker):
    _start(worker)
    [task] = _fetch(worker)
    response = worker.post(f"{R}/external-task/{task['id']}/complete", json={"workerId": "w2"})
    assert response.status_code == 400 and response.get_json()["type"] == "BadUserRequestException"
    assert "locked by worker 'w1'" in response.get_json()["message"]
    assert worker.post(f"{R}/external-task/{task['id']}/complete", json={"workerId": "w1"}).status_code == 204
    response = worker.post(f"{R}/external-task/{task['id']}/complete", json={"workerId": "w1"})
    assert response.status_code == 404 and set(response.get_json()) == {"type", "message"}


def test_failure_then_retry_timeout_then_incident(deployed, worker):
    instance = _start(worker)
    [task] = _fetch(worker)
    response = worker.post(f"{R}/external-task/{task['id']}/failure", json={
        "workerId": "w1", "errorMessage": "gateway down", "errorDetails": "Traceback...", "retries": 1,
        "retryTimeout": 1000})
    assert response.status_code == 204
    clock.advance(timedelta(seconds=2))
    [again] = _fetch(worker, "w2")
    assert again["retries"] == 1 and again["errorMessage"] == "gateway down"
    assert worker.get(f"{R}/external-task/{task['id']}/errorDetails").data == b"Traceback..."
    response = worker.post(f"{R}/external-task/{task['id']}/failure", json={
        "workerId": "w2", "errorMessage": "still down", "retries": 0, "retryTimeout": 0})
    assert response.status_code == 204
    detail = worker.get(f"/api/instances/{instance['id']}").get_json()
    assert detail["status"] == "error" and detail["incident"]["element_id"] == "charge"


def test_bpmn_error_takes_the_boundary_path(deployed, worker, team):
    instance = _start(worker)
    [task] = _fetch(worker)
    response = worker.post(f"{R}/external-task/{task['id']}/bpmnError", json={
        "workerId": "w1", "errorCode": "CARD_DECLINED", "errorMessage": "declined",
        "variables": {"reason": {"value": "funds", "type": "String"}}})
    assert response.status_code == 204
    [user_task] = worker.get(f"{R}/task?processInstanceId={instance['id']}").get_json()
    assert user_task["taskDefinitionKey"] == "call_customer"


def test_fetch_and_lock_long_polls_until_the_timeout(deployed, worker):
    import time
    began = time.monotonic()
    response = worker.post(f"{R}/external-task/fetchAndLock", json={
        "workerId": "w1", "maxTasks": 1, "asyncResponseTimeout": 600,
        "topics": [{"topicName": "nothing-here", "lockDuration": 1000}]})
    assert response.status_code == 200 and response.get_json() == []
    assert time.monotonic() - began >= 0.55


def test_fetch_filters_by_process_variables_and_hands_only_named_variables(deployed, worker):
    _start(worker, region={"value": "EU", "type": "String"}, amount={"value": 1, "type": "Integer"})
    _start(worker, region={"value": "US", "type": "String"}, amount={"value": 2, "type": "Integer"})
    [task] = _fetch(worker, processVariables={"region": "US"}, variables=["amount"])
    assert task["variables"] == {"amount": {"type": "Integer", "value": 2, "valueInfo": {}}}


def test_agents_cannot_fetch_external_tasks(deployed, team):
    response = team.li.post(f"{R}/external-task/fetchAndLock", json={
        "workerId": "w", "maxTasks": 1, "topics": [{"topicName": "charge-card", "lockDuration": 1000}]})
    assert response.status_code == 403


def test_user_tasks_claim_complete_and_reach(team, deployed):
    team.designer.deploy("first_contact.bpmn")
    instance = team.li.post(f"{R}/process-definition/key/first_contact/start",
                            json={"businessKey": "C-1", "variables": {"owner": {"value": "li", "type": "String"}}})
    assert instance.status_code == 200
    instance_id = instance.get_json()["id"]
    tasks = team.li.get(f"{R}/task?processInstanceId={instance_id}").get_json()
    assert len(tasks) == 1 and CAMUNDA_DATE.match(tasks[0]["created"])
    task_id = tasks[0]["id"]
    assert team.sam.get(f"{R}/task?processInstanceId={instance_id}").get_json() == []  # out of reach
    assert team.li.get(f"{R}/task/count?processInstanceId={instance_id}").get_json() == {"count": 1}
    assert team.li.post(f"{R}/task/{task_id}/claim", json={"userId": "li"}).status_code == 204
    response = team.wang.post(f"{R}/task/{task_id}/claim", json={"userId": "wang"})
    assert response.status_code == 409 and "li" in response.get_json()["message"]
    assert team.li.get(f"{R}/task?assignee=li").get_json()[0]["assignee"] == "li"
    assert team.li.post(f"{R}/task/{task_id}/unclaim").status_code == 204
    assert team.boss.post(f"{R}/task/{task_id}/assignee", json={"userId": "wang"}).status_code == 204
    assert team.li.post(f"{R}/task/{task_id}/assignee", json={"userId": "wang"}).status_code == 403
    form = team.wang.get(f"{R}/task/{task_id}/form-variables").get_json()
    assert "outcome" in form
    assert team.wang.get(f"{R}/task/{task_id}/variables").get_json()["owner"]["value"] == "li"
    assert team.sam.get(f"{R}/task/{task_id}/variables").status_code == 404  # out of reach
    response = team.wang.post(f"{R}/task/{task_id}/complete",
                              json={"variables": {"outcome": {"value": "maybe", "type": "String"}}})
    assert response.status_code == 400 and "outcome" in response.get_json()["message"]
    response = team.wang.post(f"{R}/task/{task_id}/submit-form",
                              json={"variables": {"outcome": {"value": "reached", "type": "String"}}})
    assert response.status_code == 204


def test_message_correlation_by_business_key_and_correlation_keys(team):
    team.designer.deploy("message_wait.bpmn")
    key = _message_process_key(team)
    first = team.boss.post(f"{R}/process-definition/key/{key}/start",
                           json={"businessKey": "A", "variables": {"ticket": {"value": 1, "type": "Integer"}}})
    second = team.boss.post(f"{R}/process-definition/key/{key}/start",
                            json={"businessKey": "B", "variables": {"ticket": {"value": 2, "type": "Integer"}}})
    assert first.status_code == second.status_code == 200
    name = _message_name()
    response = team.boss.post(f"{R}/message", json={"messageName": name})
    assert response.status_code == 400 and "matches 2" in response.get_json()["message"]
    response = team.boss.post(f"{R}/message", json={"messageName": name, "correlationKeys": {
        "ticket": {"value": 2, "type": "Integer"}}, "processVariables": {"answer": {"value": "yes", "type": "String"}}})
    assert response.status_code == 204
    response = team.boss.post(f"{R}/message", json={"messageName": name, "businessKey": "A", "resultEnabled": True})
    assert response.status_code == 200 and response.get_json()[0]["resultType"] == "Execution"
    response = team.boss.post(f"{R}/message", json={"messageName": name, "businessKey": "A"})
    assert response.status_code == 400 and "Cannot correlate message" in response.get_json()["message"]
    assert team.li.post(f"{R}/message", json={"messageName": name}).status_code == 403


def _message_process_key(team):
    from lxml import etree
    root = etree.fromstring((BPMN_DIR / "message_wait.bpmn").read_bytes())
    return root.find("{*}process").get("id")


def _message_name():
    from lxml import etree
    root = etree.fromstring((BPMN_DIR / "message_wait.bpmn").read_bytes())
    return root.find("{*}message").get("name")


def test_process_instances_list_get_variables_and_delete(deployed, worker, team):
    instance = _start(worker, amount={"value": 30, "type": "Integer"})
    listed = worker.get(f"{R}/process-instance?processDefinitionKey=charge_card").get_json()
    assert [i["id"] for i in listed] == [instance["id"]]
    assert worker.get(f"{R}/process-instance/count").get_json() == {"count": 1}
    assert worker.get(f"{R}/process-instance/{instance['id']}").get_json()["businessKey"] == "order-1"
    response = worker.post(f"{R}/process-instance/{instance['id']}/variables", json={
        "modifications": {"amount": {"value": 45, "type": "Integer"}, "vip": {"value": True, "type": "Boolean"}},
        "deletions": []})
    assert response.status_code == 204
    assert worker.get(f"{R}/process-instance/{instance['id']}/variables/amount").get_json()["value"] == 45
    assert team.li.get(f"{R}/process-instance/{instance['id']}").status_code == 404  # out of reach
    assert worker.delete(f"{R}/process-instance/{instance['id']}").status_code == 204
    assert worker.get(f"/api/instances/{instance['id']}").get_json()["status"] == "cancelled"
    assert worker.get(f"{R}/external-task?processInstanceId={instance['id']}").get_json() == []


def test_an_unknown_path_says_it_is_not_in_the_subset(worker):
    response = worker.get(f"{R}/batch")
    assert response.status_code == 404 and response.get_json()["type"] == "NotFoundException"
    assert "not part of" in response.get_json()["message"]


def test_start_by_definition_id_starts_that_version(deployed, worker, team):
    first_id = next(iter(deployed["deployedProcessDefinitions"]))
    changed = INVOICE.read_bytes().replace(b'name="Charge card"', b'name="Charge the card"')
    response = team.designer.post(f"{R}/deployment/create", data={"f": (io.BytesIO(changed), "invoice.bpmn")},
                                  content_type="multipart/form-data")
    second_id = next(iter(response.get_json()["deployedProcessDefinitions"]))
    assert second_id.startswith("charge_card:2:")
    assert worker.get(f"{R}/process-definition/{first_id}").get_json()["version"] == 1
    started = worker.post(f"{R}/process-definition/{first_id}/start", json={})
    assert started.status_code == 200 and started.get_json()["definitionId"] == first_id
    assert worker.post(f"{R}/process-definition/charge_card:1:999/start", json={}).status_code == 404


def test_setting_retries_resolves_the_incident_of_a_task_that_ran_out(deployed, worker):
    instance = _start(worker)
    [task] = _fetch(worker)
    worker.post(f"{R}/external-task/{task['id']}/failure", json={"workerId": "w1", "errorMessage": "down",
                                                                  "retries": 0, "retryTimeout": 0})
    assert worker.get(f"/api/instances/{instance['id']}").get_json()["status"] == "error"
    assert _fetch(worker) == []
    response = worker.put(f"{R}/external-task/{task['id']}/retries", json={"retries": 3})
    assert response.status_code == 204
    detail = worker.get(f"/api/instances/{instance['id']}").get_json()
    assert detail["status"] == "waiting" and detail["incident"] is None
    [again] = _fetch(worker, "w2")
    assert again["id"] == task["id"] and again["retries"] == 3
    assert worker.put(f"{R}/external-task/{again['id']}/retries", json={"retries": 1}).status_code == 204
    assert worker.get(f"{R}/external-task/{again['id']}").get_json()["retries"] == 1
    assert worker.put(f"{R}/external-task/nope/retries", json={"retries": 1}).status_code == 404
    assert worker.put(f"{R}/external-task/{again['id']}/retries", json={"retries": -1}).status_code == 400
