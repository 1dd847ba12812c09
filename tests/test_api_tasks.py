"""The task inbox over HTTP: listing with scopes, filters, order and pages; claim, unclaim, assign,
complete with form checks; and two agents racing for one task."""
import threading
from datetime import timedelta

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from engine import clock


def _tasks(caller, **params):
    response = caller.get("/api/tasks", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _first_task(caller, instance):
    return instance["tasks"][0]["id"]


def test_an_agent_sees_the_tasks_of_their_group_with_form_and_due_time(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    page = _tasks(team.li)
    assert page["total"] == 1 and page["page"] == 1 and page["page_size"] == 50
    task = page["items"][0]
    assert task["instance_id"] == instance["id"] and task["business_key"] == "C-1"
    assert task["candidate_groups"] == ["sales-east", "sales-west"] and task["assignee"] is None
    assert task["due_at"] is not None  # the 2-hour boundary timer
    assert [f["id"] for f in task["form"]] == ["outcome", "note"]
    assert _tasks(team.sam)["total"] == 0  # service is not a candidate group


def test_scopes_split_the_inbox(team):
    team.designer.deploy("first_contact.bpmn")
    first = start(team.boss, "first_contact", "C-1", owner="li")
    start(team.boss, "first_contact", "C-2", owner="li")
    assert team.li.post(f"/api/tasks/{_first_task(team.li, first)}/claim").status_code == 200
    assert _tasks(team.li, scope="mine")["total"] == 1
    assert _tasks(team.li, scope="unassigned")["total"] == 1
    assert _tasks(team.li, scope="group")["total"] == 2
    assert _tasks(team.li, scope="all")["total"] == 2
    assert _tasks(team.wang, scope="mine")["total"] == 0
    assert [t["business_key"] for t in _tasks(team.wang, scope="unassigned")["items"]] == ["C-2"]


def test_filters_and_order_by_due_time_then_age(team):
    team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    a = start(team.boss, "first_contact", "C-A", owner="li")  # due in 2 h
    clock.advance(timedelta(minutes=5))
    start(team.admin, "api_review", "R-1")  # due in 4 h, service group
    b = start(team.boss, "first_contact", "C-B", owner="li")  # due 2 h after a
    keys = [t["business_key"] for t in _tasks(team.admin)["items"]]
    assert keys == ["C-A", "C-B", "R-1"]
    assert [t["business_key"] for t in _tasks(team.admin, process_key="api_review")["items"]] == ["R-1"]
    assert [t["business_key"] for t in _tasks(team.admin, business_key="C-B")["items"]] == ["C-B"]
    assert [t["instance_id"] for t in _tasks(team.admin, instance_id=a["id"])["items"]] == [a["id"]]
    cutoff = b["tasks"][0]["due_at"]
    assert [t["business_key"] for t in _tasks(team.admin, due_before=cutoff)["items"]] == ["C-A"]
    clock.advance(timedelta(minutes=116))  # 2 h 1 min after a started, 4 min before b is due
    assert [t["business_key"] for t in _tasks(team.admin, overdue="true")["items"]] == ["C-A"]
    assert [t["business_key"] for t in _tasks(team.admin, overdue="false")["items"]] == ["C-B", "R-1"]


def test_pages_split_a_long_inbox(team):
    team.designer.deploy("first_contact.bpmn")
    for n in range(5):
        start(team.boss, "first_contact", f"C-{n}", owner="li")
    first, last = _tasks(team.li, page_size=2), _tasks(team.li, page=3, page_size=2)
    assert first["total"] == last["total"] == 5
    assert [t["business_key"] for t in first["items"]] == ["C-0", "C-1"]
    assert [t["business_key"] for t in last["items"]] == ["C-4"]
    beyond = _tasks(team.li, page=9, page_size=2)
    assert beyond["items"] == [] and beyond["total"] == 5


def test_bad_list_parameters_are_422_naming_each(team):
    response = team.li.get("/api/tasks", query_string={"scope": "everything", "page_size": 501, "page": 0})
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["errors"]) == {"scope", "page_size", "page"}
    assert body["status"] == 422 and body["title"] == "Unprocessable Entity"


def test_task_detail_includes_form_and_instance_context(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li", region="east")
    task = team.li.get(f"/api/tasks/{_first_task(team.li, instance)}").get_json()
    assert task["form"][0]["enum"] == [{"id": "reached", "name": "已联系"}, {"id": "no_answer", "name": "未接通"}]
    assert task["instance"]["id"] == instance["id"]
    assert task["instance"]["variables"]["region"] == "east"
    assert task["instance"]["version"] == 1


def test_claim_then_someone_else_claiming_is_409(team):
    team.designer.deploy("first_contact.bpmn")
    task_id = _first_task(team.li, start(team.boss, "first_contact", "C-1", owner="li"))
    claimed = team.li.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "li"
    assert team.li.post(f"/api/tasks/{task_id}/claim").status_code == 200  # claiming again is harmless
    refused = team.wang.post(f"/api/tasks/{task_id}/claim")
    assert refused.status_code == 409 and "li" in refused.get_json()["detail"]


def test_unclaim_gives_the_task_back_and_only_the_holder_may(team):
    team.designer.deploy("first_contact.bpmn")
    task_id = _first_task(team.li, start(team.boss, "first_contact", "C-1", owner="li"))
    team.li.post(f"/api/tasks/{task_id}/claim")
    assert team.wang.post(f"/api/tasks/{task_id}/unclaim").status_code == 409
    released = team.li.post(f"/api/tasks/{task_id}/unclaim")
    assert released.status_code == 200 and released.get_json()["assignee"] is None
    assert team.li.post(f"/api/tasks/{task_id}/unclaim").status_code == 409  # not held any more


def test_a_supervisor_reassigns_and_releases(team):
    team.designer.deploy("first_contact.bpmn")
    task_id = _first_task(team.li, start(team.boss, "first_contact", "C-1", owner="li"))
    team.li.post(f"/api/tasks/{task_id}/claim")
    moved = team.boss.post(f"/api/tasks/{task_id}/assign", json={"user": "wang"})
    assert moved.status_code == 200 and moved.get_json()["assignee"] == "wang"
    assert [t["id"] for t in _tasks(team.wang, scope="mine")["items"]] == [task_id]
    assert team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"outcome": "reached"}}).status_code == 409
    released = team.boss.post(f"/api/tasks/{task_id}/unclaim")
    assert released.status_code == 200 and released.get_json()["assignee"] is None
    unknown = team.boss.post(f"/api/tasks/{task_id}/assign", json={"user": "nobody"})
    assert unknown.status_code == 422 and "user" in unknown.get_json()["errors"]
    assert team.li.post(f"/api/tasks/{task_id}/assign", json={"user": "li"}).status_code == 403
    assert team.boss.post(f"/api/tasks/{task_id}/assign", json={}).status_code == 422


def test_completing_moves_the_instance_on_and_returns_the_next_task(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    task_id = _first_task(team.li, instance)
    done = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"outcome": "reached", "note": "ok"}})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["instance_status"] == "user_input"
    assert [t["element_id"] for t in body["next_tasks"]] == ["qualify"]
    assert body["next_tasks"][0]["assignee"] == "li"
    qualify = body["next_tasks"][0]["id"]
    finished = team.li.post(f"/api/tasks/{qualify}/complete", json={"variables": {"budget": 5000}}).get_json()
    assert finished["instance_status"] == "complete" and finished["next_tasks"] == []
    final = team.boss.get(f"/api/instances/{instance['id']}").get_json()
    assert final["variables"]["tier"] == "A"
    again = team.li.post(f"/api/tasks/{qualify}/complete", json={"variables": {"budget": 1}})
    assert again.status_code == 409 and "already completed by li" in again.get_json()["detail"]


def test_form_values_are_checked_and_every_bad_field_listed(team):
    team.designer.deploy("api_review.bpmn")
    task_id = _first_task(team.sam, start(team.chief, "api_review", "R-1"))
    bad = team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": {
        "severity": "medium", "refund": 900, "summary": "no", "callback": "perhaps", "callback_on": "tomorrow",
        "extra": 1}})
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]
    assert set(errors) == {"severity", "refund", "summary", "callback", "callback_on", "extra"}
    assert errors["severity"] == ["must be one of: low, high"]
    assert errors["refund"] == ["must be at most 500"]
    assert errors["summary"] == ["must be at least 3 characters long"]
    missing = team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": {}})
    assert missing.status_code == 422 and set(missing.get_json()["errors"]) == {"severity", "summary"}
    ok = team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": {
        "severity": "high", "refund": "120", "summary": "late parcel", "callback": True,
        "callback_on": "2026-12-01"}})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["instance_status"] == "complete"


def test_a_body_that_is_not_the_schema_is_422(team):
    team.designer.deploy("api_review.bpmn")
    task_id = _first_task(team.sam, start(team.chief, "api_review", "R-1"))
    wrong = team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": [1, 2], "other": 1})
    assert wrong.status_code == 422 and set(wrong.get_json()["errors"]) == {"variables", "other"}
    not_json = team.sam.post(f"/api/tasks/{task_id}/complete", data="{oops", content_type="application/json")
    assert not_json.status_code in (400, 422) and not_json.is_json


def test_unknown_and_foreign_tasks_are_404(team):
    team.designer.deploy("api_review.bpmn")
    task_id = _first_task(team.sam, start(team.chief, "api_review", "R-1"))
    for path in ("", "/claim", "/unclaim", "/complete"):
        method = team.li.get if path == "" else team.li.post
        assert method(f"/api/tasks/{task_id}{path}").status_code == 404, path  # li is not in service
        assert method(f"/api/tasks/no-such-task{path}").status_code == 404, path


def _race(callers, path, body=None):
    barrier = threading.Barrier(len(callers))
    results = [None] * len(callers)

    def run(i, caller):
        barrier.wait()
        results[i] = caller.post(path, json=body).status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_two_agents_racing_to_claim_one_task_exactly_one_wins(team, app):
    team.designer.deploy("first_contact.bpmn")
    for n in range(5):
        task_id = _first_task(team.li, start(team.boss, "first_contact", f"C-{n}", owner="li"))
        li, wang = (type(team.li)(app.test_client(), c.token, c.name) for c in (team.li, team.wang))
        assert _race([li, wang], f"/api/tasks/{task_id}/claim") == [200, 409]
        holder = team.boss.get(f"/api/tasks/{task_id}").get_json()["assignee"]
        assert holder in ("li", "wang")


def test_two_agents_racing_to_complete_one_task_exactly_one_wins(team, app):
    team.designer.deploy("first_contact.bpmn")
    for n in range(5):
        instance = start(team.boss, "first_contact", f"C-{n}", owner="li")
        task_id = _first_task(team.li, instance)
        li, wang = (type(team.li)(app.test_client(), c.token, c.name) for c in (team.li, team.wang))
        assert _race([li, wang], f"/api/tasks/{task_id}/complete", {"variables": {"outcome": "reached"}}) == [200, 409]
        events = team.boss.get(f"/api/instances/{instance['id']}/events").get_json()["items"]
        assert [e["action"] for e in events].count("task_completed") == 1
