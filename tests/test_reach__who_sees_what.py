"""Issue 12, "Who sees what", as a user meets it through the API: a record always lands in a team its
creator can see (item 4); whoever is given a task about a customer or lead may read it (item 7); money
fields stay hidden wherever their value appears, instance variables included (item 8). The cross-team
matrix (tests/test_hostile__team_matrix.py) checks the same rules against every route."""
import csv
import io
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from api_fixtures import *  # noqa: F401,F403
from engine import clock
from engine.customers.vocab import seed_defaults
from hostile_support import script_process


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _import(caller, rows, **form):
    return caller.post("/api/imports", data={"file": (io.BytesIO(_csv(rows)), "客户.csv"), "mode": "create", **form},
                       content_type="multipart/form-data")


def _ids(caller, path, **query):
    return {r["id"] for r in caller.get(path, query_string={"page_size": 500, **query}).get_json()["items"]}


# ---- item 4: a record created or imported by someone belongs to a team they can see -------------------
def test_imported_rows_land_in_a_team_of_the_importer(engine, team):
    seed_defaults(engine)
    # chief is in one team: rows without team are service's, a row without owner goes to service's pool
    done = _import(team.chief, [["客户名称", "负责人"], ["甲服务", "sam"], ["乙无主", ""]])
    assert done.status_code == 201 and done.get_json()["failed"] == 0, done.get_json()
    listed = {c["name"]: c for c in team.chief.get("/api/customers").get_json()["items"]}
    assert (listed["甲服务"]["team"], listed["甲服务"]["owner"]) == ("service", "sam")
    assert (listed["乙无主"]["team"], listed["乙无主"]["owner"], listed["乙无主"]["in_pool"]) == ("service", None, True)
    assert listed["乙无主"]["id"] in _ids(team.sam, "/api/pool")
    assert listed["乙无主"]["id"] not in _ids(team.li, "/api/pool")  # another team's pool
    # boss is in two groups (sales-east, supervisors): the owner's shared team settles it; no owner, no team:
    # the row names the column to fill and the choices
    done = _import(team.boss, [["客户名称", "负责人"], ["丙销售", "li"], ["丁无主", ""]])
    report = done.get_json()
    assert done.status_code == 201 and (report["created"], report["failed"]) == (1, 1), report
    error = report["errors"][0]
    assert error["field"] == "team" and "sales-east, supervisors" in error["reason"] and "所属团队" in error["reason"]
    mine = {c["name"]: c for c in team.boss.get("/api/customers").get_json()["items"]}
    assert mine["丙销售"]["team"] == "sales-east"
    # with the team column filled, the row goes through, into sales-east's pool
    done = _import(team.boss, [["客户名称", "所属团队"], ["丁无主", "sales-east"]])
    assert done.status_code == 201 and done.get_json()["created"] == 1, done.get_json()
    assert "丁无主" in {c["name"] for c in team.boss.get("/api/pool").get_json()["items"]}
    assert "丁无主" in {c["name"] for c in team.wang.get("/api/pool").get_json()["items"]}


def test_records_created_through_the_api_land_in_a_team_the_creator_sees(engine, team, make_user):
    seed_defaults(engine)
    duo = make_user("duo", "agent", ["sales-east", "service"])
    # an agent in one team: their lead and customer are that team's, so their supervisor sees them
    lead = team.li.post("/api/leads", json={"name": "王先生", "company": "戊公司", "phone": "13800001234"})
    assert lead.status_code == 201 and lead.get_json()["team"] == "sales-east", lead.get_json()
    assert team.boss.get(f"/api/leads/{lead.get_json()['id']}").status_code == 200
    made = team.li.post("/api/customers", json={"name": "己公司"})
    assert made.status_code == 201 and made.get_json()["customer"]["team"] == "sales-east"
    assert team.boss.get(f"/api/customers/{made.get_json()['customer']['id']}").status_code == 200
    # an agent in two teams names one: 422 naming the choices
    refused = duo.post("/api/customers", json={"name": "庚公司"})
    assert refused.status_code == 422 and "sales-east, service" in refused.get_json()["errors"]["team"][0]
    refused = duo.post("/api/leads", json={"name": "赵女士"})
    assert refused.status_code == 422 and "team" in refused.get_json()["errors"]
    made = duo.post("/api/customers", json={"name": "庚公司", "team": "service"})
    assert made.status_code == 201 and team.chief.get(f"/api/customers/{made.get_json()['customer']['id']}").status_code == 200
    # a supervisor in two groups: the owner's team, or say which; without owner the customer is in the pool
    made = team.boss.post("/api/customers", json={"name": "辛公司", "owner": "wang"})
    assert made.status_code == 201 and made.get_json()["customer"]["team"] == "sales-east"
    assert team.boss.post("/api/customers", json={"name": "壬公司"}).status_code == 422
    made = team.chief.post("/api/customers", json={"name": "癸公司"})
    customer = made.get_json()["customer"]
    assert (customer["team"], customer["owner"], customer["in_pool"]) == ("service", None, True)
    assert customer["id"] in _ids(team.sam, "/api/pool")
    # an admin may leave a customer team-less: it shows in their list and, without owner, in their pool
    made = team.admin.post("/api/customers", json={"name": "子公司"})
    customer = made.get_json()["customer"]
    assert made.status_code == 201 and customer["team"] is None
    assert customer["id"] in _ids(team.admin, "/api/customers") and customer["id"] in _ids(team.admin, "/api/pool")


def test_a_converted_lead_without_team_lands_in_a_team_of_the_converter(engine, team, make_user):
    seed_defaults(engine)
    duo = make_user("duo", "agent", ["sales-east", "service"])
    with engine.db.begin() as conn:  # a lead from before item 4: no team
        conn.exec_driver_sql("INSERT INTO leads (name, company, owner, status, created_at, updated_at) "
                             "VALUES ('钱先生', '丑公司', 'duo', 'new', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        lead_id = conn.exec_driver_sql("SELECT id FROM leads").scalar_one()
    refused = duo.post(f"/api/leads/{lead_id}/convert", json={})
    assert refused.status_code == 422 and "sales-east, service" in refused.get_json()["errors"]["team"][0]
    converted = duo.post(f"/api/leads/{lead_id}/convert", json={"team": "service"})
    assert converted.status_code == 201, converted.get_json()
    customer = converted.get_json()["customer"]
    assert customer["team"] == "service" and team.chief.get(f"/api/customers/{customer['id']}").status_code == 200


def test_migration_0012_gives_teamless_customers_their_owners_team(engine, team, make_user):
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    path = next((Path(__file__).parent.parent / "engine/storage/migrations/versions").glob("0012_teams_of_customers.py"))
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    make_user("duo", "agent", ["sales-east", "service"])
    with engine.db.begin() as conn:
        for name, owner, in_pool in (("一", "li", False), ("二", "duo", False), ("三", None, False),
                                     ("四", "sam", False)):
            conn.execute(sa.text("INSERT INTO customers (name, kind, status, owner, in_pool, tags, created_at, "
                                 "updated_at) VALUES (:name, 'company', 'lead', :owner, :in_pool, '[]', "
                                 "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"name": name, "owner": owner, "in_pool": in_pool})
        conn.exec_driver_sql("UPDATE customers SET team = 'service' WHERE name = '四'")
    with engine.db.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.upgrade()
    with engine.db.connect() as conn:
        rows = {r.name: (r.team, r.in_pool) for r in conn.exec_driver_sql("SELECT name, team, in_pool FROM customers")}
    assert rows == {"一": ("sales-east", False), "二": (None, False), "三": (None, True), "四": ("service", False)}
    # and now li's supervisor sees li's customer
    assert "一" in {c["name"] for c in team.boss.get("/api/customers").get_json()["items"]}


# ---- item 7: whoever is given a task about a customer can read what the task needs ----------------------
LIBRARY = Path(__file__).resolve().parent.parent / "bpmn"


def _deploy_library(designer, *names):
    files = [(io.BytesIO((LIBRARY / name).read_bytes()), name) for name in names]
    deployed = designer.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.get_json()


def _signed_contract(team, amount="88000"):
    """li's customer with a contact and a signed contract: the care revisits start (and the renewal
    reminders, when deployed)."""
    customer = team.li.post("/api/customers", json={"name": "甲科技有限公司", "phone": "13812345678"}).get_json()["customer"]
    contact = team.li.post("/api/contacts", json={"customer_id": customer["id"], "name": "王经理",
                                                  "phone": "13987654321"}).get_json()
    today = clock.now().date()
    contract = team.li.post("/api/contracts", json={
        "customer_id": customer["id"], "title": "2027年度服务合同", "amount": amount, "status": "active",
        "start_date": today.isoformat(), "end_date": (today + timedelta(days=365)).isoformat()})
    assert contract.status_code == 201, contract.get_json()
    return customer, contact, contract.get_json()


def test_the_service_agent_given_a_revisit_task_reads_the_customer_until_it_is_done(engine, team, make_user):
    seed_defaults(engine)
    _deploy_library(team.designer, "care_revisit.bpmn")
    stranger = make_user("zhou", "agent", ["sales-north"])
    customer, contact, contract = _signed_contract(team)
    cid = customer["id"]
    assert team.sam.get(f"/api/customers/{cid}").status_code == 404  # no task yet: another team's customer
    clock.advance(timedelta(days=7, hours=1))
    engine.fire_due_timers()
    [task] = [t for t in team.sam.get("/api/tasks", query_string={"scope": "all"}).get_json()["items"]
              if t["element_id"] == "revisit"]
    assert task["about"]["id"] == cid and "service" in task["candidate_groups"]
    # sam (service) is offered the revisit: reads the customer and its contacts, with an agent's field rules
    shown = team.sam.get(f"/api/customers/{cid}")
    assert shown.status_code == 200 and shown.get_json()["phone"] == "+8613812345678"
    assert contact["id"] in _ids(team.sam, "/api/contacts", customer_id=cid)
    assert team.sam.get(f"/api/contacts/{contact['id']}").get_json()["phone"] == "+8613987654321"
    # read only, and only what the task needs
    assert team.sam.patch(f"/api/customers/{cid}", json={"note": "sam was here"}).status_code == 404
    assert team.sam.post(f"/api/customers/{cid}/interactions", json={"kind": "call"}).status_code == 404
    assert team.sam.get(f"/api/contracts/{contract['id']}").status_code == 404
    assert cid not in _ids(team.sam, "/api/customers")
    assert team.admin.get(f"/api/customers/{cid}").get_json().get("note") is None
    # nobody else gains anything: an agent of a team the task is not offered to
    assert stranger.get(f"/api/customers/{cid}").status_code == 404
    # the task done, the customer is out of sam's reach again
    done = team.li.post(f"/api/tasks/{task['id']}/complete", json={"variables": {"csat": 5, "nps": 9}})
    assert done.status_code == 200, done.get_json()
    assert team.sam.get(f"/api/customers/{cid}").status_code == 404
    assert team.sam.get(f"/api/contacts/{contact['id']}").status_code == 404
    assert _ids(team.sam, "/api/contacts", customer_id=cid) == set()


def test_the_agent_a_lead_task_is_assigned_to_reads_the_lead(engine, team):
    seed_defaults(engine)
    name, content = script_process("lead_call", "y = 1", groups="service")
    assert team.designer.post("/api/deployments", data={"files": [(io.BytesIO(content), name)]},
                              content_type="multipart/form-data").status_code == 201
    lead = team.li.post("/api/leads", json={"name": "刘女士", "company": "乙贸易", "phone": "13700001111"}).get_json()
    assert team.sam.get(f"/api/leads/{lead['id']}").status_code == 404
    started = team.admin.post("/api/instances", json={"process_key": "lead_call", "business_key": f"lead:{lead['id']}"})
    assert started.status_code == 201, started.get_json()
    task_id = started.get_json()["tasks"][0]["id"]
    assert team.sam.get(f"/api/leads/{lead['id']}").get_json()["phone"] == "+8613700001111"
    assert team.sam.patch(f"/api/leads/{lead['id']}", json={"note": "x"}).status_code == 404
    assert team.sam.post(f"/api/tasks/{task_id}/complete", json={"variables": {}}).status_code == 200
    assert team.sam.get(f"/api/leads/{lead['id']}").status_code == 404


# ---- item 8: money fields stay hidden wherever the value appears ---------------------------------------
def _instance_of(caller, process_key):
    [found] = [i for i in caller.get("/api/instances", query_string={"process_key": process_key}).get_json()["items"]]
    return found["id"]


def test_the_renewal_instance_shows_an_agent_no_contract_amount(engine, team):
    seed_defaults(engine)
    _deploy_library(team.designer, "renewal_reminder.bpmn")
    customer, _contact, contract = _signed_contract(team, amount="88000")
    assert contract["amount"] is None and contract["hidden_fields"] == ["amount"]  # as before
    iid = _instance_of(team.li, "renewal_reminder")
    shown = team.li.get(f"/api/instances/{iid}").get_json()
    assert shown["variables"]["amount"] is None and shown["hidden_fields"] == ["amount"]
    assert shown["variables"]["contract_title"] == "2027年度服务合同"
    for url in (f"/api/instances/{iid}", f"/api/instances/{iid}/events", f"/api/customers/{customer['id']}/timeline",
                f"/engine-rest/process-instance/{iid}/variables", f"/engine-rest/process-instance/{iid}/variables/amount"):
        response = team.li.get(url)
        assert response.status_code == 200 and "88000" not in response.get_data(as_text=True), url
    assert team.li.get(f"/engine-rest/process-instance/{iid}/variables/amount").get_json()["value"] is None
    # a supervisor sees it, everywhere
    assert team.boss.get(f"/api/instances/{iid}").get_json()["variables"]["amount"] == 88000
    assert "hidden_fields" not in team.boss.get(f"/api/instances/{iid}").get_json()
    assert "88000" in team.boss.get(f"/api/instances/{iid}/events").get_data(as_text=True)


FORM_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="d_quote" targetNamespace="http://bpmn.io/schema/bpmn"><bpmn:process id="quote" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="note" />
<bpmn:userTask id="note" name="Call" camunda:candidateGroups="sales-east" />
<bpmn:sequenceFlow id="f1" sourceRef="note" targetRef="ask" />
<bpmn:userTask id="ask" name="Ask the budget" camunda:candidateGroups="sales-east"><bpmn:extensionElements>
<camunda:formData><camunda:formField id="budget" label="预算(元)" type="long" /></camunda:formData></bpmn:extensionElements>
</bpmn:userTask><bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="check" />
<bpmn:userTask id="check" name="Check" camunda:candidateGroups="sales-east" />
<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" /><bpmn:endEvent id="end" />
</bpmn:process></bpmn:definitions>"""


def test_an_agents_task_hides_money_and_they_set_it_only_where_a_form_asks(engine, team, app, identity, monkeypatch):
    from pages_support import signed_in

    monkeypatch.setattr(engine, "hidden_variables", engine.hidden_variables | {"discount"})  # FOLLOWUP_HIDDEN_VARIABLES
    deployed = team.designer.post("/api/deployments", data={"files": [(io.BytesIO(FORM_PROCESS.encode()), "quote.bpmn")]},
                                  content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.get_json()
    started = team.boss.post("/api/instances", json={"process_key": "quote", "business_key": "Q-1", "variables": {
        "amount": 88000, "discount": 4321, "result": {"amount": 88000, "ok": True}, "memo": "call first",
        "budget": 77000}})
    assert started.status_code == 201, started.get_json()
    iid, task_id = started.get_json()["id"], started.get_json()["tasks"][0]["id"]
    task = team.li.get(f"/api/tasks/{task_id}").get_json()
    assert task["instance"]["variables"] == {"amount": None, "discount": None, "result": {"amount": None, "ok": True},
                                             "memo": "call first", "budget": None}
    assert task["instance"]["hidden_fields"] == ["amount", "discount", "result.amount", "budget"]
    for url in (f"/engine-rest/task/{task_id}/variables", f"/engine-rest/task/{task_id}/form-variables"):
        text = team.li.get(url).get_data(as_text=True)
        assert "88000" not in text and "4321" not in text, url
    # a task without a form for it: a hidden variable is not theirs to overwrite (422 naming it)
    refused = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"amount": 1, "memo": "x"}})
    assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"amount"}
    refused = team.li.post(f"/engine-rest/task/{task_id}/complete", json={"variables": {"discount": {"value": 0}}})
    assert refused.status_code in (400, 422) and "discount" in refused.get_data(as_text=True)
    done = team.li.post(f"/api/tasks/{task_id}/complete", json={"variables": {"memo": "called"}})
    assert done.status_code == 200, done.get_json()
    # where the form asks for the budget, the agent enters it; then reads it as null like any hidden value
    ask = done.get_json()["next_tasks"][0]["id"]
    xiao = signed_in(app, identity, "xiao", "agent", ["sales-east"])  # the page's form is not prefilled with it
    page = xiao.get(f"/tasks/{ask}").get_data(as_text=True)
    assert "budget" in page and "77000" not in page, page[page.find("<main"):][:3000]
    assert team.li.post(f"/api/tasks/{ask}/complete", json={"variables": {"budget": 50000}}).status_code == 200
    variables = team.li.get(f"/api/instances/{iid}").get_json()["variables"]
    assert (variables["budget"], variables["amount"], variables["discount"]) == (None, None, None)
    assert team.boss.get(f"/api/instances/{iid}").get_json()["variables"]["budget"] == 50000
    assert team.boss.get(f"/api/instances/{iid}").get_json()["variables"]["amount"] == 88000
