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
    assert {k: v for k, v in detail.items() if k != "instance"} == body
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
