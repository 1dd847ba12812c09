"""Issue 11, team boundaries: a supervisor's rights end at their team's edge."""
import io
import json

import pytest

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from hostile_support import HEAD


def _message_process(key, group):
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:message id="m" name="customer_replied" />
<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait" />
<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m" /></bpmn:intermediateCatchEvent>
<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="read" />
<bpmn:userTask id="read" name="Read the reply" camunda:candidateGroups="{group}" />
<bpmn:sequenceFlow id="f2" sourceRef="read" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def test_a_supervisor_cannot_advance_another_teams_instance_with_a_message(team):
    files = [_message_process("service_reply", "service"), _message_process("sales_reply", "sales-east")]
    response = team.designer.post("/api/deployments", data={"files": [(io.BytesIO(c), n) for n, c in files]},
                                  content_type="multipart/form-data")
    assert response.status_code == 201
    theirs = start(team.sam, "service_reply", "C-14")
    ours = start(team.li, "sales_reply", "C-15")
    # boss (sales-east) names the service team's instance: as if nothing waited, and nothing moves
    refused = team.boss.post("/api/messages", json={"name": "customer_replied", "business_key": "C-14"})
    assert refused.status_code == 404
    assert team.chief.get(f"/api/instances/{theirs['id']}").get_json()["status"] == "waiting"
    # without a business key, only the boss's own team's instance moves
    sent = team.boss.post("/api/messages", json={"name": "customer_replied"})
    assert sent.status_code == 200 and sent.get_json()["delivered_to"] == [ours["id"]]
    assert team.chief.get(f"/api/instances/{theirs['id']}").get_json()["status"] == "waiting"
    # the service supervisor reaches it
    sent = team.chief.post("/api/messages", json={"name": "customer_replied", "business_key": "C-14"})
    assert sent.status_code == 200 and sent.get_json()["delivered_to"] == [theirs["id"]]


# ---- the customer hub: team A = sales-east (li, wang agents; boss supervisor), B = service (sam, chief) ----
import csv  # noqa: E402

from engine.customers import define_template  # noqa: E402
from engine.customers.vocab import seed_defaults  # noqa: E402
from hostile_support import script_process  # noqa: E402


@pytest.fixture
def hub(engine, team):
    seed_defaults(engine)
    created = team.chief.post("/api/customers", json={"name": "丙公司", "phone": "13900001111", "owner": "sam",
                                                      "team": "service", "note": "B's note"})
    assert created.status_code == 201, created.get_json()
    team.b_customer = created.get_json()["customer"]
    return team


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _import(caller, rows, **form):
    return caller.post("/api/imports", data={"file": (io.BytesIO(_csv(rows)), "客户.csv"), **form},
                       content_type="multipart/form-data")


def test_an_upsert_import_cannot_take_over_another_teams_customer(hub):
    b_id = hub.b_customer["id"]
    rows = [["客户名称", "备注", "负责人"], ["丙公司", "taken over", "li"]]
    dry = _import(hub.boss, rows, mode="upsert", key="name", dry_run="true")
    assert dry.status_code == 200
    report = dry.get_json()
    assert (report["created"], report["updated"], report["errors"], report["warnings"]) == (1, 0, [], [])
    assert "sam" not in json.dumps(report) and "service" not in json.dumps(report)
    real = _import(hub.boss, rows, mode="upsert", key="name")
    assert real.status_code == 201 and real.get_json()["updated"] == 0
    mine = hub.sam.get(f"/api/customers/{b_id}")
    assert mine.status_code == 200
    assert (mine.get_json()["note"], mine.get_json()["owner"], mine.get_json()["team"]) == ("B's note", "sam", "service")
    # and an import cannot hand customers to another team's people
    handed = _import(hub.boss, [["客户名称", "负责人"], ["丁公司", "sam"]], mode="create")
    assert handed.status_code == 201 and handed.get_json()["failed"] == 1
    assert "boss's teams" in handed.get_json()["errors"][0]["reason"]


def test_another_teams_imports_are_out_of_reach(hub):
    theirs = _import(hub.chief, [["客户名称"], ["戊公司"], [""]], mode="create")
    assert theirs.status_code == 201
    batch = theirs.get_json()["batch_id"]
    listed = hub.boss.get("/api/imports").get_json()
    assert batch not in [b["id"] for b in listed["items"]] and listed["total"] == 0
    assert hub.boss.get(f"/api/imports/{batch}/errors.csv").status_code == 404
    assert hub.boss.post(f"/api/imports/{batch}/revert").status_code == 404
    assert hub.chief.get(f"/api/imports/{batch}/errors.csv").status_code == 200
    assert hub.admin.get("/api/imports").get_json()["total"] == 1


def test_an_sop_cannot_be_started_on_a_customer_out_of_reach(hub):
    name, content = script_process("about_customer", "y = 1", then_user_task=False)
    assert hub.designer.post("/api/deployments", data={"files": [(io.BytesIO(content), name)]},
                             content_type="multipart/form-data").status_code == 201
    b_id = hub.b_customer["id"]
    assert hub.li.get(f"/api/customers/{b_id}").status_code == 404
    for key in (str(b_id), f"customer:{b_id}"):
        refused = hub.li.post("/api/instances", json={"process_key": "about_customer", "business_key": key})
        assert refused.status_code == 404 and "sam" not in json.dumps(refused.get_json())
    assert hub.admin.get("/api/instances").get_json()["total"] == 0
    assert hub.sam.post("/api/instances", json={"process_key": "about_customer",
                                                "business_key": str(b_id)}).status_code == 201


def test_check_ins_pools_duplicates_and_holders_stay_within_the_team(hub, engine):
    b_id = hub.b_customer["id"]
    define_template(engine, "visit", "拜访", [{"name": "note", "label": "备注", "type": "text"}], actor="ada")
    assert hub.sam.post("/api/checkins", json={"customer_id": b_id, "scenario": "visit",
                                               "values": {"note": "B only"}}).status_code == 201
    assert hub.boss.get("/api/checkins").get_json()["total"] == 0
    assert hub.chief.get("/api/checkins").get_json()["total"] == 1
    other = hub.boss.get("/api/checkins", query_string={"customer_id": b_id})
    assert other.status_code == 404, other.get_json()
    # duplicate warnings name only customers in reach
    created = hub.li.post("/api/customers", json={"name": "丙公司", "phone": "13900001111"})
    assert created.status_code == 201
    assert all(c["id"] != b_id for w in created.get_json()["warnings"] for c in w["candidates"])
    # agents keep what they create in their own hands and teams
    for body, field in (({"name": "己公司", "owner": "sam"}, "owner"), ({"name": "庚公司", "team": "service"}, "team")):
        refused = hub.li.post("/api/customers", json=body)
        assert refused.status_code == 422 and field in refused.get_json()["errors"]
    # another team's pool is out of reach, even by sequential id
    assert hub.chief.post(f"/api/customers/{b_id}/transfer", json={"owner": None}).status_code == 200
    assert hub.wang.get(f"/api/customers/{b_id}").status_code == 404
    assert hub.sam.get(f"/api/customers/{b_id}").status_code == 200  # masked, claimable by B


def test_a_supervisor_cannot_hand_a_task_to_another_team(team):
    name, content = script_process("handed", "y = 1")
    assert team.designer.post("/api/deployments", data={"files": [(io.BytesIO(content), name)]},
                              content_type="multipart/form-data").status_code == 201
    instance = start(team.li, "handed", "H-1")
    task_id = instance["tasks"][0]["id"]
    refused = team.boss.post(f"/api/tasks/{task_id}/assign", json={"user": "sam"})
    assert refused.status_code == 422 and "user" in refused.get_json()["errors"]
    assert team.chief.get(f"/api/instances/{instance['id']}").status_code == 404
    assert team.chief.post(f"/api/instances/{instance['id']}/cancel", json={}).status_code == 404
    assert team.boss.post(f"/api/tasks/{task_id}/assign", json={"user": "wang"}).status_code == 200
