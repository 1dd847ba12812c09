"""The permission matrix: role x action x ownership, over HTTP, plus the rule's two forms (Python for one
object, SQL for lists) agreeing on every case.

Callers: agent li, supervisor boss, designer dora (each in sales-east) and admin ada (no group).
Task kinds (tests/bpmn/api_access.bpmn): `mine` assigned to the caller, `group` offered to sales-east,
`teammate` held by wang (sales-east) without candidate groups, `foreign` offered to service.
"""
import pytest
import sqlalchemy as sa

from api_fixtures import *  # noqa: F401,F403
from engine import access
from engine.instances.process_groups import ProcessGroups
from engine.storage.schema import human_tasks, instances

ROLES = {"agent": "li", "supervisor": "boss", "designer": "dora", "admin": "ada"}
KINDS = ("mine", "group", "teammate", "foreign")

# Expected HTTP status per role, task kind and action. 404: out of reach (existence does not leak);
# 403: in reach but the role lacks the right; 409: in reach, but wang holds it.
EXPECTED = {
    #               view  claim complete assign
    ("agent", "mine"): (200, 200, 200, 403),
    ("agent", "group"): (200, 200, 200, 403),
    ("agent", "teammate"): (404, 404, 404, 404),
    ("agent", "foreign"): (404, 404, 404, 404),
    ("supervisor", "mine"): (200, 200, 200, 200),
    ("supervisor", "group"): (200, 200, 200, 200),
    ("supervisor", "teammate"): (200, 409, 409, 200),
    ("supervisor", "foreign"): (404, 404, 404, 404),
    ("designer", "mine"): (200, 200, 200, 403),
    ("designer", "group"): (200, 200, 200, 403),
    ("designer", "teammate"): (404, 404, 404, 404),
    ("designer", "foreign"): (404, 404, 404, 404),
    ("admin", "mine"): (200, 200, 200, 200),
    ("admin", "group"): (200, 200, 200, 200),
    ("admin", "teammate"): (200, 409, 409, 200),
    ("admin", "foreign"): (200, 200, 200, 200),
}
ACTIONS = ("view", "claim", "complete", "assign")

RIGHTS = {  # role -> actions granted, written out so a change to access.RIGHTS is a deliberate one
    "agent": {"task:view", "task:claim", "task:unclaim", "task:complete", "instance:view", "instance:start",
              "definition:view"},
    "supervisor": {"task:view", "task:claim", "task:unclaim", "task:complete", "task:assign", "instance:view",
                   "instance:start", "instance:cancel", "instance:suspend", "instance:resume", "instance:retry",
                   "message:send", "metrics:view", "definition:view", "instance:repair"},
    "designer": {"task:view", "task:claim", "task:unclaim", "task:complete", "instance:view", "instance:start",
                 "instance:retry", "definition:view", "definition:deploy", "instance:migrate"},
    "admin": set(access.ALL_ACTIONS),
}


@pytest.fixture
def world(engine, make_user):
    users = {
        "li": make_user("li", "agent", ["sales-east"]),
        "boss": make_user("boss", "supervisor", ["sales-east"]),
        "dora": make_user("dora", "designer", ["sales-east"]),
        "ada": make_user("ada", "admin"),
        "wang": make_user("wang", "agent", ["sales-east"]),
        "sam": make_user("sam", "agent", ["service"]),
    }
    from conftest import bpmn_file
    engine.deploy([bpmn_file("api_access.bpmn"), bpmn_file("first_contact.bpmn"), bpmn_file("api_review.bpmn")])
    return users


def _tasks_for(engine, caller_name):
    instance = engine.instance(engine.start("api_access", "A-1", {"owner": caller_name, "mate": "wang"},
                                            actor="system"))
    return {t["element_id"]: t["id"] for t in instance["tasks"]}


def test_rights_per_role_are_as_documented():
    assert {role: set(rights) for role, rights in access.RIGHTS.items()} == RIGHTS


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ROLES)
def test_task_matrix(world, engine, role, kind, action):
    caller = world[ROLES[role]]
    task_id = _tasks_for(engine, caller.name)[kind]
    if action == "view":
        response = caller.get(f"/api/tasks/{task_id}")
    elif action == "claim":
        response = caller.post(f"/api/tasks/{task_id}/claim")
    elif action == "complete":
        response = caller.post(f"/api/tasks/{task_id}/complete", json={"variables": {}})
    else:
        response = caller.post(f"/api/tasks/{task_id}/assign", json={"user": "wang"})  # issue 11: not across teams
    expected = EXPECTED[(role, kind)][ACTIONS.index(action)]
    assert response.status_code == expected, response.get_json()
    listed = {t["id"] for t in caller.get("/api/tasks", query_string={"page_size": 500}).get_json()["items"]}
    if action in ("view", "claim"):  # the inbox shows exactly the tasks in reach
        assert (task_id in listed) == (EXPECTED[(role, kind)][0] == 200)


@pytest.mark.parametrize("role", ROLES)
def test_the_python_and_sql_forms_of_task_reach_agree(world, engine, identity, role):
    _tasks_for(engine, ROLES[role])
    _tasks_for(engine, "someone-else")
    user = identity.user(ROLES[role])
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(human_tasks)).all()
        in_sql = set(conn.execute(sa.select(human_tasks.c.id).where(access.task_reach_sql(user))).scalars())
    from engine.instances.store import task_dict
    in_python = {r.id for r in rows if access.task_in_reach(user, task_dict(r), identity.groups_of)}
    assert in_sql == in_python and len(rows) == 8


# Instances: `started` by the caller (a service process), `group` (first_contact names sales-east),
# `foreign` (a service process started by someone else). Expected: (view, cancel).
INSTANCE_EXPECTED = {
    ("agent", "started"): (200, 403), ("agent", "group"): (200, 403), ("agent", "foreign"): (404, 404),
    ("supervisor", "started"): (200, 200), ("supervisor", "group"): (200, 200),
    ("supervisor", "foreign"): (404, 404),
    ("designer", "started"): (200, 403), ("designer", "group"): (200, 403), ("designer", "foreign"): (200, 403),
    ("admin", "started"): (200, 200), ("admin", "group"): (200, 200), ("admin", "foreign"): (200, 200),
}


def _instances_for(engine, caller_name):
    return {"started": engine.start("api_review", "R-1", {}, actor=caller_name),
            "group": engine.start("first_contact", "C-1", {"owner": "wang"}, actor="system"),
            "foreign": engine.start("api_review", "R-2", {}, actor="sam")}


@pytest.mark.parametrize("kind", ("started", "group", "foreign"))
@pytest.mark.parametrize("role", ROLES)
def test_instance_matrix(world, engine, role, kind):
    caller = world[ROLES[role]]
    instance_id = _instances_for(engine, caller.name)[kind]
    view, cancel = INSTANCE_EXPECTED[(role, kind)]
    assert caller.get(f"/api/instances/{instance_id}").status_code == view
    assert caller.get(f"/api/instances/{instance_id}/events").status_code == view
    listed = {i["id"] for i in caller.get("/api/instances").get_json()["items"]}
    assert (instance_id in listed) == (view == 200)
    assert caller.post(f"/api/instances/{instance_id}/cancel").status_code == cancel


@pytest.mark.parametrize("role", ROLES)
def test_the_python_and_sql_forms_of_instance_reach_agree(world, engine, identity, role):
    _instances_for(engine, ROLES[role])
    engine.start("api_access", "A-1", {"owner": "wang", "mate": "wang"}, actor="system")
    user = identity.user(ROLES[role])
    groups = ProcessGroups(engine.definitions)
    with engine.db.connect() as conn:
        keys = groups.processes_of(conn, user.groups)
        in_sql = set(conn.execute(sa.select(instances.c.id).where(access.instance_reach_sql(user, keys))).scalars())
        ids = list(conn.execute(sa.select(instances.c.id)).scalars())
        in_python = set()
        for instance_id in ids:
            instance = engine.instance(instance_id)
            tasks = any(access.task_in_reach(user, t, identity.groups_of) for t in instance["tasks"])
            if access.instance_in_reach(user, instance, groups.of_process(conn, instance["process_key"]), tasks):
                in_python.add(instance_id)
    assert in_sql == in_python and len(ids) == 4


@pytest.mark.parametrize("role,process,expected", [
    ("agent", "first_contact", 201), ("agent", "api_review", 403),
    ("supervisor", "first_contact", 201), ("supervisor", "api_review", 403),
    ("designer", "api_review", 201), ("admin", "api_review", 201),
])
def test_who_starts_which_process(world, role, process, expected):
    response = world[ROLES[role]].post("/api/instances", json={"process_key": process, "variables": {"owner": "li"}})
    assert response.status_code == expected


@pytest.mark.parametrize("role,expected", [("agent", 403), ("supervisor", 404), ("designer", 403), ("admin", 404)])
def test_who_sends_messages(world, role, expected):
    # 404: allowed, but nothing waits for this message
    assert world[ROLES[role]].post("/api/messages", json={"name": "nothing_waits"}).status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_the_python_and_sql_forms_of_a_task_about_a_record_agree(world, engine, identity, role):
    """Issue 12 item 7: who is given a task about a customer (business key) reads it."""
    for key, owner in (("41", ROLES[role]), ("customer:42", "someone-else"), ("43", "wang")):
        engine.start("api_access", key, {"owner": owner, "mate": "wang"}, actor="system")
    engine.start("api_review", "44", {}, actor="system")
    user = identity.user(ROLES[role])
    from engine.instances.store import task_dict
    with engine.db.connect() as conn:
        rows = [task_dict(r) for r in conn.execute(sa.select(human_tasks)).all()]
        for key in ("41", "customer:42", "43", "44", "45"):
            in_sql = conn.execute(sa.select(access.task_about_sql(user, [key]))).scalar()
            in_python = any(access.task_given_to(user, t) for t in rows if t["business_key"] == key)
            assert bool(in_sql) == in_python, key


@pytest.mark.parametrize("role,sees", [("agent", False), ("supervisor", True), ("designer", False), ("admin", True)])
def test_money_variables_per_role(world, engine, role, sees):
    """Issue 12 item 8: the money field rule of /api/contracts holds for instance variables, per role."""
    caller = world[ROLES[role]]
    instance_id = engine.start("api_review", "R-9", {"amount": 88000, "budget": 5000, "memo": "m"}, actor=caller.name)
    shown = caller.get(f"/api/instances/{instance_id}").get_json()
    assert shown["variables"]["memo"] == "m"
    assert (shown["variables"]["amount"], shown["variables"]["budget"]) == ((88000, 5000) if sees else (None, None))
    assert shown.get("hidden_fields") == (None if sees else ["amount", "budget"])
    events = caller.get(f"/api/instances/{instance_id}/events").get_data(as_text=True)
    assert ("88000" in events) == sees
