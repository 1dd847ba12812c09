"""Inbox totals come from task_counts (kept by triggers on human_tasks), not from counting every task:
they must still equal the number of tasks the inbox lists, for every role, scope and process filter,
after claims, releases, reassignments, completions, timer escalations and cancellations.

(Every test also checks, at teardown, that task_counts equals a fresh count of human_tasks: conftest.)
"""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from conftest import bpmn_file
from engine import access, clock
from engine.instances.store import task_dict
from engine.storage.schema import human_tasks

SCOPES = ("all", "mine", "group", "unassigned")


@pytest.fixture
def busy_inbox(engine, team):
    """Tasks of every kind: offered to two groups at once (sales-east and sales-west), held, released,
    reassigned, escalated by a timer to supervisors, completed, and of a cancelled instance."""
    engine.deploy([bpmn_file("first_contact.bpmn"), bpmn_file("api_access.bpmn")])
    calls = [start(team.boss, "first_contact", f"C-{n}", owner="li") for n in range(7)]
    call_task = [engine.instance(c["id"])["tasks"][0]["id"] for c in calls]
    assert team.li.post(f"/api/tasks/{call_task[0]}/claim").status_code == 200
    assert team.wang.post(f"/api/tasks/{call_task[1]}/claim").status_code == 200
    assert team.wang.post(f"/api/tasks/{call_task[2]}/claim").status_code == 200
    assert team.wang.post(f"/api/tasks/{call_task[2]}/unclaim").status_code == 200
    # across teams: only an admin may (issue 11)
    assert team.admin.post(f"/api/tasks/{call_task[3]}/assign", json={"user": "sam"}).status_code == 200
    assert team.li.post(f"/api/tasks/{call_task[4]}/complete",
                        json={"variables": {"outcome": "reached"}}).status_code == 200  # -> qualify, li's
    assert team.boss.post(f"/api/instances/{calls[5]['id']}/cancel").status_code == 200
    for owner in ("li", "wang", "sam"):
        engine.start("api_access", f"A-{owner}", {"owner": owner, "mate": "wang"}, actor="system")
    clock.advance(timedelta(hours=3))  # the untouched call's 2-hour timer escalates it to supervisors
    engine.fire_due_timers()
    return team


IN_SCOPE = {  # the scopes as the API documents them, over tasks already in reach
    "all": lambda user, task: True,
    "mine": lambda user, task: task["assignee"] == user.name,
    "group": lambda user, task: bool(user.groups & set(task["candidate_groups"])),
    "unassigned": lambda user, task: task["assignee"] is None,
}


@pytest.mark.parametrize("process_key", [None, "first_contact"])
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("who", ["li", "wang", "sam", "boss", "chief", "ada", "dora"])
def test_the_inbox_lists_and_counts_exactly_the_tasks_in_reach_and_scope(busy_inbox, engine, identity, who, scope,
                                                                         process_key):
    caller, user = getattr(busy_inbox, {"ada": "admin", "dora": "designer"}.get(who, who)), identity.user(who)
    with engine.db.connect() as conn:  # the oracle: every open task through the Python rule
        every = [task_dict(r) for r in conn.execute(sa.select(human_tasks))]
    expected = {t["id"] for t in every if access.task_in_reach(user, t, identity.groups_of)
                and IN_SCOPE[scope](user, t) and process_key in (None, t["process_key"])}
    query = {"scope": scope, **({"process_key": process_key} if process_key else {})}
    listed = caller.get("/api/tasks", query_string={**query, "page_size": 500}).get_json()["items"]
    assert {t["id"] for t in listed} == expected
    first = caller.get("/api/tasks", query_string={**query, "page_size": 1}).get_json()
    assert first["total"] == len(expected)
    if expected:  # a full page of one: the total was not read off the page
        assert len(first["items"]) == 1


def test_a_task_offered_to_two_of_my_groups_counts_once(engine, make_user):
    both = make_user("both", "agent", ["sales-east", "sales-west"])
    engine.deploy([bpmn_file("first_contact.bpmn")])
    for n in range(3):
        engine.start("first_contact", f"C-{n}", {"owner": "li"}, actor="system")
    page = both.get("/api/tasks", query_string={"scope": "group", "page_size": 1}).get_json()
    assert page["total"] == 3


def test_totals_follow_claims_and_completions(engine, team):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    for n in range(4):
        engine.start("first_contact", f"C-{n}", {"owner": "wang"}, actor="system")

    def total(caller, scope):
        return caller.get("/api/tasks", query_string={"scope": scope, "page_size": 1}).get_json()["total"]

    task = team.li.get("/api/tasks", query_string={"scope": "unassigned"}).get_json()["items"][0]["id"]
    assert (total(team.li, "unassigned"), total(team.li, "mine")) == (4, 0)
    team.li.post(f"/api/tasks/{task}/claim")
    # li's call is still offered to sales-east: wang sees it (all), but not among the unassigned
    assert (total(team.li, "unassigned"), total(team.li, "mine"), total(team.wang, "all"),
            total(team.wang, "unassigned")) == (3, 1, 4, 3)
    team.li.post(f"/api/tasks/{task}/complete", json={"variables": {"outcome": "reached"}})
    # the call is done; its next task (qualify) is wang's own
    assert (total(team.li, "all"), total(team.li, "mine"), total(team.wang, "mine")) == (3, 0, 1)


def test_a_claim_chosen_to_break_a_deadlock_is_tried_again(engine, identity):
    """The counts' rows are locked by every write of their tasks; PostgreSQL breaks a deadlock on them by
    aborting one transaction. Here the claim is the one aborted (its deadlock check runs first): it is
    tried again and succeeds once the other transaction is over."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")

    identity.add_user("li", "agent", ["sales-east"])
    engine.deploy([bpmn_file("first_contact.bpmn")])
    held = engine.instance(engine.start("first_contact", "C-1", {"owner": "li"}, actor="system"))["tasks"][0]
    free = engine.instance(engine.start("first_contact", "C-2", {"owner": "li"}, actor="system"))["tasks"][0]
    engine.claim(held["id"], "li")  # li's counts row now exists
    li = identity.user("li")
    other = engine.db.connect()
    transaction = other.begin()
    other.exec_driver_sql("SET LOCAL deadlock_timeout = '10s'")  # so that the claim's check finds the cycle
    other.exec_driver_sql("UPDATE task_counts SET open_tasks = open_tasks WHERE assignee = 'li'")
    outcome = {}
    claimer = threading.Thread(target=lambda: outcome.update(task=engine.claim_for(free["id"], li)))
    claimer.start()  # locks the unassigned row, then waits for li's row
    time.sleep(0.3)
    other.exec_driver_sql("UPDATE task_counts SET open_tasks = open_tasks WHERE assignee = ''")  # the cycle
    transaction.commit()
    other.close()
    claimer.join(30)
    assert outcome["task"]["assignee"] == "li"
