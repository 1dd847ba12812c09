"""The agent loop's short paths (claim in one statement; complete checking access under the instance's
lock; the answer of a completion from what it saved) do exactly what the long paths do."""
import pytest
from sqlalchemy import event

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start


class Statements:
    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine.db, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine.db, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        if "api_tokens" not in statement:  # the token lookup (the tests run without the token cache)
            self.seen.append(statement)


def _events(engine, instance_id, action):
    return [e for e in engine.events(instance_id, page_size=500)[0] if e["action"] == action]


def test_a_claim_is_one_statement_with_its_audit_event(team, engine):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    task_id = instance["tasks"][0]["id"]
    with Statements(engine) as statements:
        claimed = team.li.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200
    body = claimed.get_json()
    assert body["assignee"] == "li" and body["claimed_at"] is not None and body["id"] == task_id
    detail = team.li.get(f"/api/tasks/{task_id}").get_json()
    assert {k: v for k, v in detail.items() if k not in ("instance", "about")} == body  # about: lists and GET only
    events = _events(engine, instance["id"], "task_claimed")
    assert [(e["actor"], e["task_id"], e["element_id"], e["detail"]) for e in events] == [
        ("li", task_id, body["element_id"], {"assignee": "li"})]
    if engine.db.dialect.name == "postgresql":
        assert len(statements.seen) == 1
    # claiming again is harmless and audited again, as before; someone else: 409 naming the holder
    assert team.li.post(f"/api/tasks/{task_id}/claim").status_code == 200
    refused = team.wang.post(f"/api/tasks/{task_id}/claim")
    assert refused.status_code == 409 and "li" in refused.get_json()["detail"]
    assert len(_events(engine, instance["id"], "task_claimed")) == 2


def test_a_claim_out_of_reach_or_of_a_gone_task_changes_nothing(team, engine):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    task_id = instance["tasks"][0]["id"]
    assert team.sam.post(f"/api/tasks/{task_id}/claim").status_code == 404  # service: not a candidate group
    assert team.li.post("/api/tasks/no-such-task/claim").status_code == 404
    assert _events(engine, instance["id"], "task_claimed") == []
    assert team.li.get(f"/api/tasks/{task_id}").get_json()["assignee"] is None


def _after_completion(engine, user_name, identity, instance_id):
    from engine.instances import queries
    with engine.db.connect() as conn:
        return queries.after_completion(conn, identity.user(user_name), instance_id)


def test_a_completion_answers_what_the_long_path_read_back(team, engine, identity):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    call = instance["tasks"][0]["id"]
    with Statements(engine) as statements:
        done = team.li.post(f"/api/tasks/{call}/complete", json={"variables": {"outcome": "reached"}})
    assert done.status_code == 200
    body = done.get_json()
    status, next_tasks = _after_completion(engine, "li", identity, instance["id"])
    assert body["instance_id"] == instance["id"] and body["instance_status"] == status == "user_input"
    assert [t["id"] for t in body["next_tasks"]] == [t["id"] for t in next_tasks] and len(next_tasks) == 1
    if engine.db.dialect.name == "postgresql":  # no read of the task before: it comes with the lock
        assert "FOR UPDATE OF instances" in statements.seen[0]
    qualify = next_tasks[0]["id"]
    with Statements(engine) as statements:
        finished = team.li.post(f"/api/tasks/{qualify}/complete", json={"variables": {"budget": 5000}})
    body = finished.get_json()
    assert (body["instance_status"], body["next_tasks"]) == ("complete", [])
    assert _after_completion(engine, "li", identity, instance["id"]) == ("complete", [])
    assert not any("FROM instances LEFT OUTER JOIN human_tasks" in s for s in statements.seen)  # not read back
    if engine.db.dialect.name == "postgresql":  # the locked load, then one statement saves everything
        assert len(statements.seen) == 2 and statements.seen[1].startswith("WITH audit AS")
        events = _events(engine, instance["id"], "task_completed")
        assert [(e["actor"], e["task_id"]) for e in events] == [("li", call), ("li", qualify)]


def test_a_completion_out_of_reach_is_refused_under_the_lock_and_changes_nothing(team, engine):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.boss, "first_contact", "C-1", owner="li")
    call = instance["tasks"][0]["id"]
    refused = team.sam.post(f"/api/tasks/{call}/complete", json={"variables": {"outcome": "reached"}})
    assert refused.status_code == 404 and call in refused.get_json()["detail"]
    after = engine.instance(instance["id"])
    assert [t["id"] for t in after["tasks"]] == [call] and after["status"] == "user_input"
    assert _events(engine, instance["id"], "task_completed") == []
    # held by li: wang (same group) is refused with 409 naming li, and nothing changes either
    assert team.li.post(f"/api/tasks/{call}/claim").status_code == 200
    taken = team.wang.post(f"/api/tasks/{call}/complete", json={"variables": {"outcome": "reached"}})
    assert taken.status_code == 409 and "li" in taken.get_json()["detail"]
    assert _events(engine, instance["id"], "task_completed") == []
    # li's supervisor reaches the held task (through li's groups), but it is li's to complete: 409
    held = team.boss.post(f"/api/tasks/{call}/complete", json={"variables": {"outcome": "reached"}})
    assert held.status_code == 409 and "li" in held.get_json()["detail"]


@pytest.mark.parametrize("scope", ["all", "unassigned", "group", "mine"])
def test_the_inbox_pages_are_those_of_the_plain_reach_condition(team, engine, identity, scope):
    """The page is taken from the union of each reach alternative's first rows; it must be exactly the
    page of the plain condition, for a supervisor (three alternatives, tasks matching several)."""
    import sqlalchemy as sa

    from engine import access
    from engine.instances import queries
    from engine.storage.schema import human_tasks

    team.designer.deploy("first_contact.bpmn", "api_review.bpmn")
    for n in range(7):
        start(team.boss, "first_contact", f"C-{n}", owner="li")
        start(team.admin, "api_review", f"R-{n}")
    tasks = [t["id"] for t in team.admin.get("/api/tasks", query_string={"page_size": 500}).get_json()["items"]]
    for task_id in tasks[:3]:
        team.admin.post(f"/api/tasks/{task_id}/assign", json={"user": "li"})  # held by a member of boss's group
    team.admin.post(f"/api/tasks/{tasks[3]}/assign", json={"user": "boss"})
    team.admin.post(f"/api/tasks/{tasks[4]}/assign", json={"user": "sam"})  # not boss's group
    boss = identity.user("boss")
    order = (human_tasks.c.due_at.asc().nulls_last(), human_tasks.c.created_at, human_tasks.c.id)
    scoped = {"all": sa.true(), "unassigned": human_tasks.c.assignee.is_(None),
              "mine": human_tasks.c.assignee == "boss"}
    with engine.db.connect() as conn:
        if scope == "group":
            expected_all = None
        else:
            expected_all = [r.id for r in conn.execute(sa.select(human_tasks.c.id).where(
                access.task_reach_sql(boss), scoped[scope]).order_by(*order))]
        everything, total = queries.list_tasks(conn, boss, scope=scope, page_size=500)
        if expected_all is not None:
            assert [t["id"] for t in everything] == expected_all and total == len(expected_all)
        for page_size in (1, 2, 3, 5):
            for page in range(1, len(everything) // page_size + 3):
                items, total = queries.list_tasks(conn, boss, scope=scope, page=page, page_size=page_size)
                assert [t["id"] for t in items] == [t["id"] for t in everything][(page - 1) * page_size:page * page_size]
                assert total == len(everything)


def test_an_inbox_without_total_skips_only_the_count(team, engine):
    team.designer.deploy("first_contact.bpmn")
    for n in range(5):
        start(team.boss, "first_contact", f"C-{n}", owner="li")
    counted = team.li.get("/api/tasks", query_string={"page_size": 2}).get_json()
    with Statements(engine) as statements:
        uncounted = team.li.get("/api/tasks", query_string={"page_size": 2, "total": "false"}).get_json()
    assert counted["total"] == 5 and uncounted["total"] is None
    assert uncounted["items"] == counted["items"] and (uncounted["page"], uncounted["page_size"]) == (1, 2)
    assert not any("count(" in s for s in statements.seen)
    last = team.li.get("/api/tasks", query_string={"page": 3, "page_size": 2, "total": "false"}).get_json()
    assert last["total"] == 5 and len(last["items"]) == 1  # a partial page tells the total by itself
    assert team.li.get("/api/tasks", query_string={"total": "maybe"}).status_code == 422
