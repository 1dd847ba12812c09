"""Instances over HTTP: start, list with filters, inspect, audit trail, lifecycle, messages."""
from datetime import timedelta

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from engine import clock


def _list(caller, **params):
    response = caller.get("/api/instances", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_start_answers_201_with_the_instance_and_its_location(team):
    team.designer.deploy("first_contact.bpmn")
    response = team.li.post("/api/instances", json={"process_key": "first_contact", "business_key": "C-1",
                                                    "variables": {"owner": "li"}})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/instances/{body['id']}")
    assert body["status"] == "user_input" and body["version"] == 1 and body["business_key"] == "C-1"
    assert body["variables"] == {"owner": "li"} and body["started_by"] == "li"
    assert [t["element_id"] for t in body["tasks"]] == ["call"]
    assert [t["element_id"] for t in body["timers"]] == ["call_overdue"] and body["timers"][0]["due_at"]
    assert "call" in body["active_element_ids"] and body["incident"] is None


def test_start_errors(team):
    team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    assert team.li.post("/api/instances", json={"process_key": "nope"}).status_code == 404
    missing = team.li.post("/api/instances", json={"variables": {}})
    assert missing.status_code == 422 and "process_key" in missing.get_json()["errors"]
    refused = team.li.post("/api/instances", json={"process_key": "api_review"})  # a service process
    assert refused.status_code == 403 and "service" in refused.get_json()["detail"]
    bad_var = team.li.post("/api/instances", json={"process_key": "first_contact", "variables": {"_x": 1}})
    assert bad_var.status_code == 422 and "_x" in bad_var.get_json()["errors"]


def test_instance_detail_and_events(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    task_id = instance["tasks"][0]["id"]
    team.li.post(f"/api/tasks/{task_id}/claim")
    team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"outcome": "reached"}})
    detail = team.li.get(f"/api/instances/{instance['id']}").get_json()
    assert detail["variables"]["outcome"] == "reached"
    assert [t["element_id"] for t in detail["tasks"]] == ["qualify"] and detail["timers"] == []
    events = team.li.get(f"/api/instances/{instance['id']}/events").get_json()
    assert [e["action"] for e in events["items"]] == ["started", "task_claimed", "task_completed"]
    assert events["items"][2]["actor"] == "li" and events["total"] == 3
    assert events["items"][2]["detail"]["changes"]["outcome"] == [None, "reached"]
    second = team.li.get(f"/api/instances/{instance['id']}/events", query_string={"page": 2, "page_size": 2})
    assert [e["action"] for e in second.get_json()["items"]] == ["task_completed"]
    assert team.li.get("/api/instances/nope").status_code == 404
    assert team.li.get("/api/instances/nope/events").status_code == 404


def test_list_filters(team):
    team.designer.deploy("first_contact.bpmn", "api_review.bpmn", "api_broken_script.bpmn")
    a = start(team.admin, "first_contact", "C-1", owner="li")
    clock.advance(timedelta(minutes=10))
    b = start(team.admin, "api_review", "R-1")
    c = start(team.admin, "api_broken", "X-1", parts=0)
    assert c["status"] == "error" and c["incident"]["element_id"] == "divide"
    assert [i["id"] for i in _list(team.admin)["items"]] == [c["id"], b["id"], a["id"]]
    assert [i["id"] for i in _list(team.admin, process_key="api_review")["items"]] == [b["id"]]
    assert [i["id"] for i in _list(team.admin, status="error")["items"]] == [c["id"]]
    assert [i["id"] for i in _list(team.admin, has_incident="true")["items"]] == [c["id"]]
    assert {i["id"] for i in _list(team.admin, has_incident="false")["items"]} == {a["id"], b["id"]}
    assert [i["id"] for i in _list(team.admin, business_key="C-1")["items"]] == [a["id"]]
    assert [i["id"] for i in _list(team.admin, started_before=b["started_at"])["items"]] == [a["id"]]
    assert {i["id"] for i in _list(team.admin, started_after=b["started_at"])["items"]} == {b["id"], c["id"]}
    clock.advance(timedelta(hours=2))  # a's 2-hour task is late; b's 4-hour one is not
    assert [i["id"] for i in _list(team.admin, overdue="true")["items"]] == [a["id"]]
    summary = _list(team.admin, page_size=1)
    assert summary["total"] == 3 and len(summary["items"]) == 1 and summary["items"][0]["version"] == 1
    assert team.admin.get("/api/instances", query_string={"status": "sleeping"}).status_code == 422


def test_who_sees_which_instance(team):
    team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    sales = start(team.admin, "first_contact", "C-1", owner="li")
    service = start(team.sam, "api_review", "R-1")
    assert {i["id"] for i in _list(team.li)["items"]} == {sales["id"]}
    assert {i["id"] for i in _list(team.sam)["items"]} == {service["id"]}
    assert {i["id"] for i in _list(team.designer)["items"]} == {sales["id"], service["id"]}
    assert team.li.get(f"/api/instances/{service['id']}").status_code == 404
    assert team.chief.get(f"/api/instances/{service['id']}").status_code == 200


def test_lifecycle_suspend_resume_cancel(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    path = f"/api/instances/{instance['id']}"
    assert team.li.post(f"{path}/suspend").status_code == 403
    suspended = team.boss.post(f"{path}/suspend")
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
    task_id = instance["tasks"][0]["id"]
    blocked = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"outcome": "reached"}})
    assert blocked.status_code == 409 and "suspended" in blocked.get_json()["detail"]
    assert team.boss.post(f"{path}/suspend").status_code == 409
    assert team.boss.post(f"{path}/resume").get_json()["status"] == "user_input"
    assert team.boss.post(f"{path}/resume").status_code == 409
    cancelled = team.boss.post(f"{path}/cancel", json={"reason": "customer moved away"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["tasks"] == []
    assert team.boss.post(f"{path}/cancel").status_code == 409
    events = [e["action"] for e in team.boss.get(f"{path}/events").get_json()["items"]]
    assert events == ["started", "suspended", "resumed", "cancelled"]
    assert team.boss.post("/api/instances/nope/cancel").status_code == 404


def test_retry_runs_the_failed_step_again(team):
    team.designer.deploy("api_broken_script.bpmn")
    instance = start(team.designer, "api_broken", "X-1", parts=0)
    path = f"/api/instances/{instance['id']}"
    assert team.li.post(f"{path}/retry").status_code == 404  # not in li's reach
    retried = team.designer.post(f"{path}/retry")
    assert retried.status_code == 200
    assert retried.get_json()["status"] == "error" and "division" in retried.get_json()["incident"]["message"]
    healthy = start(team.designer, "api_broken", "X-2", parts=4)
    assert healthy["status"] == "complete" and healthy["variables"]["share"] == 25
    assert team.designer.post(f"/api/instances/{healthy['id']}/retry").status_code == 409


def test_messages_reach_the_waiting_instance(team):
    team.designer.deploy("api_reply.bpmn")
    waiting = start(team.chief, "api_reply", "C-7")
    other = start(team.chief, "api_reply", "C-8")
    assert waiting["status"] == "waiting" and waiting["tasks"] == []
    assert team.sam.post("/api/messages", json={"name": "customer_replied"}).status_code == 403
    sent = team.chief.post("/api/messages", json={"name": "customer_replied", "business_key": "C-7",
                                                   "variables": {"reply": "yes please"}})
    assert sent.status_code == 200 and sent.get_json() == {"delivered_to": [waiting["id"]]}
    now = team.chief.get(f"/api/instances/{waiting['id']}").get_json()
    assert [t["element_id"] for t in now["tasks"]] == ["read"] and now["variables"]["reply"] == "yes please"
    assert team.chief.get(f"/api/instances/{other['id']}").get_json()["tasks"] == []
    nobody = team.chief.post("/api/messages", json={"name": "customer_replied", "business_key": "C-7"})
    assert nobody.status_code == 404 and "C-7" in nobody.get_json()["detail"]
    assert team.chief.post("/api/messages", json={}).status_code == 422
