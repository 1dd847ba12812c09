"""Issue 12, messages a person reads: Chinese names, labels, error texts, reports, bodies and files."""
import io

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import Caller, start
from pathlib import Path

ROOT_TESTS = Path(__file__).resolve().parent


# ---- 18: Chinese user and group names; enum labels; error texts that read ----------------------------

def test_chinese_user_and_group_names_are_accepted(team, client):
    made = team.admin.post("/api/users", json={"name": "王芳", "role": "agent", "groups": ["销售一部"],
                                               "display_name": "王芳"})
    assert made.status_code == 201, made.get_json()
    wang_fang = Caller(client, made.get_json()["token"], "王芳")
    me = wang_fang.get("/api/me").get_json()
    assert me["name"] == "王芳" and me["groups"] == ["销售一部"]
    refused = team.admin.post("/api/users", json={"name": "王 芳", "role": "agent"})
    assert refused.status_code == 422 and "王芳" in refused.get_json()["errors"]["name"][0]


def test_an_enum_label_stands_for_its_id(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.li, "first_contact", "C-1", owner="li")
    [task] = instance["tasks"]
    done = team.li.post(f"/api/tasks/{task['id']}/complete", json={"variables": {"outcome": "已联系"}})
    assert done.status_code == 200, done.get_json()
    assert team.li.get(f"/api/instances/{instance['id']}").get_json()["variables"]["outcome"] == "reached"


def test_error_texts_read_as_sentences(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.li, "first_contact", "C-1", owner="li")
    refused = team.li.post("/api/messages", json={"name": "x"})
    assert refused.status_code == 403 and refused.get_json()["detail"] == "an agent may not send messages"
    assert team.boss.post("/api/users", json={"name": "x1", "role": "agent"}).get_json()["detail"] == \
        "a supervisor may not manage users"
    [task] = instance["tasks"]
    released = team.wang.post(f"/api/tasks/{task['id']}/unclaim")
    assert "None" not in released.get_json()["detail"], released.get_json()


# ---- 19: reports default to a supervisor's teams and read back the dates they echo ----------------------

def test_report_dates_read_back_what_they_echo(team):
    plain = team.boss.get("/api/reports/funnel?since=2026-11-01&until=2026-12-01")
    assert plain.status_code == 200, plain.get_json()
    body = plain.get_json()
    assert body["since"] == "2026-10-31T16:00:00Z" and body["until"] == "2026-11-30T16:00:00Z"  # Asia/Shanghai
    again = team.boss.get(f"/api/reports/funnel?since={body['since']}&until={body['until']}")
    assert again.status_code == 200 and again.get_json()["since"] == body["since"]
    unencoded_plus = team.boss.get("/api/reports/funnel?since=2026-11-01T00:00:00+08:00")  # '+' arrives as ' '
    assert unencoded_plus.status_code == 200 and unencoded_plus.get_json()["since"] == "2026-10-31T16:00:00Z"
    backwards = team.boss.get("/api/reports/funnel?since=2026-12-01&until=2026-11-01")
    assert backwards.status_code == 422 and "until" in str(backwards.get_json()["errors"]), backwards.get_json()
    assert team.boss.get("/api/reports/sla").status_code == 200


# ---- 20: numbers kept exactly, bodies labelled, files named for what they are ---------------------------

LONG_FORM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="budget_form" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:userTask id="ask" name="预算"><bpmn:extensionElements><camunda:formData>
      <camunda:formField id="budget" label="预算" type="long" /></camunda:formData></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_long_field_refuses_a_number_it_cannot_keep(team):
    files = [(io.BytesIO(LONG_FORM.encode()), "budget_form.bpmn")]
    assert team.designer.post("/api/deployments", data={"files": files},
                              content_type="multipart/form-data").status_code == 201
    instance = start(team.designer, "budget_form", "C-1")
    [task] = instance["tasks"]
    too_big = team.admin.post(f"/api/tasks/{task['id']}/complete", data='{"variables": {"budget": 99999999999999999999999}}',
                                 content_type="application/json")
    assert too_big.status_code == 422 and "budget" in too_big.get_json()["errors"]


def test_a_body_without_a_json_content_type_is_a_415(team):
    team.designer.deploy("first_contact.bpmn")
    response = team.li.post("/api/instances", data='{"process_key": "first_contact", "business_key": "C-1"}',
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and "application/json" in response.get_json()["detail"]
    assert team.li.get("/api/instances").get_json()["total"] == 0


def test_a_corrupt_xlsx_is_named_as_a_workbook(team):
    broken = b"PK\x03\x04" + b"\x00" * 100
    for content in (broken, b"\xff\xfe not a zip at all \x81\x82"):
        response = team.admin.post("/api/imports", data={"file": (io.BytesIO(content), "客户.xlsx"), "dry_run": "true"},
                                   content_type="multipart/form-data")
        assert response.status_code == 422, response.get_json()
        assert ".xlsx workbook" in response.get_json()["detail"] and "CSV" not in response.get_json()["detail"]


# ---- 17: a notification that cannot be delivered is visible; the demo's channels work out of the box -----

NOTIFY_NOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="tell_supervisors" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tell" />
    <bpmn:scriptTask id="tell"><bpmn:script>notify("supervisors", "【升级提醒】客户投诉超时")</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="tell" targetRef="wait" />
    <bpmn:userTask id="wait" name="等待" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _deliver_all(engine, channels):
    from engine.background.outbox import OutboxPolicy, claim, deliver
    from engine.background.webhooks import load_channels, sender

    send = sender(load_channels({"FOLLOWUP_CHANNELS": channels}))
    policy = OutboxPolicy(max_attempts=1)
    for _, ids in claim(engine.db, __import__("engine.clock", fromlist=["now"]).now(), policy):
        for message_id in ids:
            deliver(engine.db, message_id, send, policy)


def test_a_failed_notification_shows_on_its_instance_in_metrics_and_in_the_log(team, engine, caplog):
    files = [(io.BytesIO(NOTIFY_NOW.encode()), "tell.bpmn")]
    assert team.designer.post("/api/deployments", data={"files": files},
                              content_type="multipart/form-data").status_code == 201
    instance = start(team.designer, "tell_supervisors", "C-1")
    with caplog.at_level("WARNING", logger="followup.outbox"):
        _deliver_all(engine, "{}")
    [message] = team.designer.get(f"/api/instances/{instance['id']}").get_json()["messages"]
    assert message["status"] == "failed" and message["channel"] == "supervisors"
    assert "no channel named 'supervisors'" in message["last_error"]
    assert "followup_messages_failed 1" in team.boss.get("/metrics").get_data(as_text=True)
    assert any("notification_failed" in r.getMessage() and "supervisors" in r.getMessage() for r in caplog.records)


def test_a_log_channel_takes_every_message(team, engine, caplog):
    files = [(io.BytesIO(NOTIFY_NOW.encode()), "tell.bpmn")]
    team.designer.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")
    instance = start(team.designer, "tell_supervisors", "C-1")
    with caplog.at_level("INFO", logger="followup.notify"):
        _deliver_all(engine, '{"*": {"kind": "log"}}')
    [message] = team.designer.get(f"/api/instances/{instance['id']}").get_json()["messages"]
    assert message["status"] == "sent"
    assert any("客户投诉超时" in r.getMessage() for r in caplog.records)


# ---- 21: a restarted demo leaves a designer's changes alone ---------------------------------------------

def test_the_demo_deploys_only_the_bundled_sops_that_are_missing(team, engine):
    from followup.cli import BUNDLED_BPMN, deploy_bundled

    assert {p.key for p in deploy_bundled(engine, only_missing=True)} >= {"care_revisit", "lead_assignment"}
    changed = (BUNDLED_BPMN / "care_revisit.bpmn").read_text(encoding="utf-8").replace("回访计划", "回访计划（改）")
    files = [(io.BytesIO(changed.encode()), "care_revisit.bpmn")]
    assert team.designer.post("/api/deployments", data={"files": files},
                              content_type="multipart/form-data").get_json()["processes"][0]["version"] == 2
    assert deploy_bundled(engine, only_missing=True) == []
    assert team.designer.get("/api/definitions/care_revisit").get_json()["version"] == 2


def test_a_decision_table_is_deployed_alone_and_downloaded(team):
    """A .dmn deployed alone is stored (as Camunda does); deployments after it call its decisions, and
    the newest table can be downloaded."""
    from followup.cli import BUNDLED_BPMN

    table = (BUNDLED_BPMN / "lead_routing.dmn").read_text(encoding="utf-8")
    changed = table.replace("</dmn:definitions>", "<!-- 新的路由规则 -->\n</dmn:definitions>") \
        if "</dmn:definitions>" in table else table.rstrip() + "\n<!-- 新的路由规则 -->\n"
    alone = team.designer.post("/api/deployments", data={"files": [(io.BytesIO(changed.encode()), "lead_routing.dmn")]},
                               content_type="multipart/form-data")
    assert alone.status_code == 201, alone.get_json()
    process = [(io.BytesIO((BUNDLED_BPMN / "lead_assignment.bpmn").read_bytes()), "lead_assignment.bpmn")]
    later = team.designer.post("/api/deployments", data={"files": process}, content_type="multipart/form-data")
    assert later.status_code == 201, later.get_json()  # its decisionRef finds the table deployed before
    downloaded = team.designer.get("/api/decisions/lead_routing/xml")
    assert downloaded.status_code == 200 and "新的路由规则" in downloaded.get_data(as_text=True)
    assert team.designer.get("/api/decisions/nothing/xml").status_code == 404