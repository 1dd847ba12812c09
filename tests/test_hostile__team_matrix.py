"""Issue 11: the team boundary as a matrix, role x team x every route of the OpenAPI document.

Team B (service: agent sam, supervisor chief) owns a customer with its records, a check-in, an import, a
process instance with an open task, each carrying a secret marker. Every operation of the OpenAPI document
(generated from the document, so a route added tomorrow is in the matrix) is called by team A's agent and
supervisor (sales-east: li, boss) with B's ids in the path and a body built from the operation's own
schema, its fields naming B's things (customer, contract, owner sam, team service). No answer may show a
secret or be a 500, and afterwards B's things are as they were. B's own supervisor, making the same
calls, does see the secrets (the control that shows the matrix can tell).

Field rules (issue 12 item 8) as the same matrix within team B: B's agent calls every GET route and finds
B's money nowhere (a contract's amount, the instance's `amount` and `budget` variables, in records,
variables, tasks, the audit trail, /engine-rest), while B's supervisor finds it.
"""
import csv
import io
import json

import pytest

from api_fixtures import *  # noqa: F401,F403
from engine.customers import define_template
from engine.customers.vocab import seed_defaults
from hostile_support import script_process

SECRET = "B-SECRET"
B_NAME = "丙秘密公司"
MONEY = "7654321"  # B's contract amount and the instance's amount and budget: only roles that see amounts
SKIPPED = {("get", "/api/docs")}  # a page, no data


@pytest.fixture
def world(engine, team, identity):
    seed_defaults(engine)
    define_template(engine, "visit", "拜访", [{"name": "note", "label": "备注", "type": "text"}], actor="ada")
    name, content = script_process("b_service", "memo2 = memo + '-2'", groups="service")
    assert team.designer.post("/api/deployments", data={"files": [(io.BytesIO(content), name)]},
                              content_type="multipart/form-data").status_code == 201
    ids = {}
    customer = team.chief.post("/api/customers", json={"name": B_NAME, "phone": "13900001111", "owner": "sam",
                                                       "team": "service", "note": f"{SECRET}-NOTE"})
    assert customer.status_code == 201, customer.get_json()
    ids["customer"] = customer.get_json()["customer"]["id"]
    for collection, body in (("contacts", {"name": f"{SECRET}-CONTACT"}), ("opportunities", {"name": f"{SECRET}-OPP"}),
                             ("contracts", {"title": f"{SECRET}-CONTRACT", "amount": MONEY}),
                             ("tickets", {"subject": f"{SECRET}-TICKET"})):
        made = team.chief.post(f"/api/{collection}", json={"customer_id": ids["customer"], **body})
        assert made.status_code == 201, (collection, made.get_json())
        ids[collection] = made.get_json()["id"]
    made = team.chief.post("/api/payments", json={"contract_id": ids["contracts"], "amount": "100",
                                                   "paid_on": "2026-11-01", "note": f"{SECRET}-PAYMENT"})
    assert made.status_code == 201, made.get_json()
    ids["payments"] = made.get_json()["id"]
    made = team.sam.post("/api/leads", json={"name": f"{SECRET}-LEAD", "company": f"{SECRET}-CO", "team": "service"})
    assert made.status_code == 201, made.get_json()
    ids["leads"] = made.get_json()["id"]
    assert team.sam.post("/api/checkins", json={"customer_id": ids["customer"], "scenario": "visit",
                                                "values": {"note": f"{SECRET}-CHECKIN"}}).status_code == 201
    out = io.StringIO()
    csv.writer(out).writerows([["客户名称", "客户级别"], [f"{SECRET}-IMPORT", "Z"]])
    imported = team.chief.post("/api/imports", data={"file": (io.BytesIO(out.getvalue().encode()), "b.csv")},
                               content_type="multipart/form-data")
    assert imported.status_code == 201, imported.get_json()
    ids["batch"] = imported.get_json()["batch_id"]
    instance = team.sam.post("/api/instances", json={"process_key": "b_service",
                                                     "business_key": f"customer:{ids['customer']}",
                                                     "variables": {"memo": f"{SECRET}-VAR", "amount": int(MONEY),
                                                                   "budget": int(MONEY)}})
    assert instance.status_code == 201, instance.get_json()
    ids["instance"] = instance.get_json()["id"]
    ids["task"] = instance.get_json()["tasks"][0]["id"]
    return ids


def _path_values(ids):
    return {"customer_id": ids["customer"], "instance_id": ids["instance"], "task_id": ids["task"],
            "lead_id": ids["leads"], "batch_id": ids["batch"], "key": "b_service", "name": "sam", "token_id": 1,
            "vocabulary": "level", "code": "A", "scenario": "visit",
            "decision_id": "lead_routing"}  # decision tables are public, as process definitions are


def _fill(path, ids):
    values = _path_values(ids)
    filled = path
    for part in path.split("/"):
        if part.startswith("{"):
            param = part.strip("{}")
            if param == "record_id":
                value = ids[path.split("/")[2]]
            elif path.startswith("/api/reports/"):
                value = "funnel"
            else:
                assert param in values, f"a new path parameter '{param}' in {path}: say in this matrix what of B's it names"
                value = values[param]
            filled = filled.replace(part, str(value))
    return filled


def _resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _body(document, schema, path, ids):
    """Every property the operation declares, valued to reach across: B's ids, owner sam, team service."""
    schema = _resolve(document, schema)
    hostile = {"customer_id": ids["customer"], "contract_id": ids["contracts"], "lead_id": ids["leads"],
               "owner": "sam", "team": "service", "user": "sam", "business_key": f"customer:{ids['customer']}",
               "process_key": "b_service", "scenario": "visit", "variables": {}, "values": {}}
    if path == "/api/messages":
        return {"name": "customer_replied", "business_key": f"customer:{ids['customer']}", "variables": {}}
    body = {}
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(document, prop)
        if prop.get("readOnly"):
            continue
        if name in hostile:
            body[name] = hostile[name]
        elif prop.get("enum"):
            body[name] = prop["enum"][0]
        else:
            kind = prop.get("type")
            body[name] = {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(
                kind, "2026-12-01" if prop.get("format") in ("date", "date-time") else "x")
    return body


def _calls(document, ids):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or (method, path) in SKIPPED:
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            url = _fill(path, ids)
            if "application/json" in content:
                yield method, path, url, {"json": _body(document, content["application/json"]["schema"], path, ids)}
            elif content:  # uploads: the import tries to upsert B's customer; other uploads a small file
                rows = io.StringIO()
                csv.writer(rows).writerows([["客户名称", "备注"], [B_NAME, "A-WAS-HERE"]])
                files = {"file": (io.BytesIO(rows.getvalue().encode()), "a.csv"), "mode": "upsert", "key": "name"}
                if not path.startswith("/api/imports"):
                    files = {"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "a.png"),
                             "files": (io.BytesIO(b"<x/>"), "a.bpmn")}
                yield method, path, url, {"data": files, "content_type": "multipart/form-data"}
            else:
                yield method, path, url, {}


def _b_state(team, ids):
    """What B sees of their own things: fields that A must not be able to change."""
    customer = team.chief.get(f"/api/customers/{ids['customer']}").get_json()
    instance = team.chief.get(f"/api/instances/{ids['instance']}").get_json()
    state = {"customer": {k: customer.get(k) for k in ("name", "note", "owner", "team", "in_pool", "level")},
             "instance": (instance["status"], [(t["id"], t["assignee"]) for t in instance["tasks"]]),
             "imports": [(b["id"], b["status"]) for b in team.chief.get("/api/imports").get_json()["items"]]}
    for collection in ("contacts", "leads", "opportunities", "contracts", "payments", "tickets"):
        record = team.chief.get(f"/api/{collection}/{ids[collection]}").get_json()
        state[collection] = {k: record.get(k) for k in ("owner", "team", "customer_id", "title", "name", "subject",
                                                        "note", "status")}
    for collection in ("customers", "contacts", "leads", "opportunities", "contracts", "payments", "tickets",
                       "checkins"):
        state[f"{collection} of B"] = sorted(r["id"] for r in team.chief.get(
            f"/api/{collection}", query_string={"page_size": 500}).get_json()["items"])
    return state


def _call(caller, identity, method, url, kwargs):
    token = identity.issue_token(caller.name)[1]  # fresh: DELETE /api/me/token revokes the one in use
    return caller.client.open(url, method=method.upper(), headers={"Authorization": f"Bearer {token}"}, **kwargs)


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_team_a_reaches_nothing_of_team_b_on_any_route(world, team, identity, role):
    ids = world
    document = team.admin.get("/api/openapi.json").get_json()
    before = _b_state(team, ids)
    caller = team.li if role == "agent" else team.boss
    calls = list(_calls(document, ids))
    assert len(calls) >= 80
    leaks = []
    for method, path, url, kwargs in calls:
        response = _call(caller, identity, method, url, kwargs)
        text = response.get_data(as_text=True)
        if response.status_code >= 500 or SECRET in text or B_NAME in text:
            leaks.append((method.upper(), path, response.status_code, text[:200]))
    assert leaks == []
    assert _b_state(team, ids) == before


def test_the_control_team_b_sees_its_own_secrets(world, team, identity):
    ids = world
    document = team.admin.get("/api/openapi.json").get_json()
    shown = {path for method, path, url, kwargs in _calls(document, ids) if method == "get"
             and SECRET in _call(team.chief, identity, method, url, kwargs).get_data(as_text=True)}
    assert {"/api/customers/{customer_id}", "/api/instances/{instance_id}", "/api/tasks/{task_id}",
            "/api/checkins", "/api/imports/{batch_id}/errors.csv", "/api/contracts/{record_id}"} <= shown


def test_team_b_agent_reads_no_money_on_any_route_and_team_b_supervisor_does(world, team, identity):
    ids = world
    document = team.admin.get("/api/openapi.json").get_json()
    gets = [(path, url, kwargs) for method, path, url, kwargs in _calls(document, ids) if method == "get"]
    extra = [(p, p, {}) for p in (f"/engine-rest/process-instance/{ids['instance']}/variables",
                                  f"/engine-rest/process-instance/{ids['instance']}/variables/amount",
                                  f"/engine-rest/task/{ids['task']}/variables",
                                  f"/engine-rest/task/{ids['task']}/form-variables")]
    leaks = []
    for path, url, kwargs in gets + extra:
        response = _call(team.sam, identity, "get", url, kwargs)
        if response.status_code >= 500 or MONEY in response.get_data(as_text=True):
            leaks.append((path, response.status_code, response.get_data(as_text=True)[:200]))
    assert leaks == []
    instance = _call(team.sam, identity, "get", f"/api/instances/{ids['instance']}", {}).get_json()
    assert instance["variables"]["amount"] is None and instance["hidden_fields"] == ["amount", "budget"]
    shown = {path for path, url, kwargs in gets + extra
             if MONEY in _call(team.chief, identity, "get", url, kwargs).get_data(as_text=True)}
    assert {"/api/contracts/{record_id}", "/api/instances/{instance_id}", "/api/instances/{instance_id}/events",
            "/api/tasks/{task_id}", f"/engine-rest/process-instance/{ids['instance']}/variables"} <= shown
