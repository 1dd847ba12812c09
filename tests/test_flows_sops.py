"""Issue 12, SOPs doing the right thing, driven through the API the way a team uses them."""
import io

import pytest
from sop_support import customer, deploy_library, instances_of, run_due

from api_fixtures import *  # noqa: F401,F403
from engine import clock


@pytest.fixture
def sop(engine, team):
    """The bundled SOPs deployed, the vocabularies seeded, the API team of api_fixtures."""
    from engine.customers.vocab import seed_defaults

    seed_defaults(engine)
    deploy_library(engine)
    return engine


def _deploy(caller, name, xml):
    response = caller.post("/api/deployments", data={"files": [(io.BytesIO(xml.encode()), name)]},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()


# ---- 15: start variables are checked against the start form; a supervisor corrects and retries ----------

@pytest.mark.parametrize("end_date", ["2027/11/30", "明天", None])
def test_a_start_with_a_wrong_or_missing_date_is_refused_naming_the_field(sop, team, end_date):
    cid = customer(sop)
    variables = {"contract_id": 1, "contract_title": "年度合同"}
    if end_date is not None:
        variables["end_date"] = end_date
    response = team.admin.post("/api/instances", json={"process_key": "renewal_reminder",
                                                       "business_key": str(cid), "variables": variables})
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["end_date"]
    assert instances_of(sop, "renewal_reminder") == []
    response = team.admin.post("/api/instances", json={"process_key": "renewal_reminder", "business_key": str(cid),
                                                       "variables": {**variables, "end_date": "2027-11-30"}})
    assert response.status_code == 201 and response.get_json()["status"] == "waiting", response.get_json()


def test_the_start_form_is_part_of_the_definition(sop, team):
    response = team.admin.get("/api/definitions/renewal_reminder")
    fields = {f["id"]: f for f in response.get_json()["start_form"]}
    assert fields["end_date"]["type"] == "date" and fields["end_date"]["required"] is True


NO_FORM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="visit_plan" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="plan" />
    <bpmn:scriptTask id="plan"><bpmn:script>visit = datetime.fromisoformat(visit_on) + timedelta(days=1)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="plan" targetRef="visit_task" />
    <bpmn:userTask id="visit_task" name="拜访" />
    <bpmn:sequenceFlow id="f3" sourceRef="visit_task" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_supervisor_corrects_the_variables_of_a_failed_start_and_retries(team):
    _deploy(team.designer, "visit_plan.bpmn", NO_FORM)
    started = team.designer.post("/api/instances", json={"process_key": "visit_plan", "business_key": "C-1",
                                                         "variables": {"visit_on": "2027/11/30"}}).get_json()
    assert started["status"] == "error"
    retried = team.designer.post(f"/api/instances/{started['id']}/retry",
                                 json={"variables": {"visit_on": "2027-11-30"}})
    assert retried.status_code == 200, retried.get_json()
    body = retried.get_json()
    assert body["status"] == "user_input" and body["variables"]["visit_on"] == "2027-11-30"
    assert body["incident"] is None
    events = team.designer.get(f"/api/instances/{started['id']}/events").get_json()["items"]
    retried_event = [e for e in events if e["action"] == "retried"][0]
    assert retried_event["detail"]["changes"]["visit_on"] == ["2027/11/30", "2027-11-30"]


def test_retry_refuses_corrections_the_start_form_rejects(sop, team):
    cid = customer(sop)
    started = team.admin.post("/api/instances", json={"process_key": "renewal_reminder", "business_key": str(cid),
                                                      "variables": {"contract_id": 1, "end_date": "2027-11-30",
                                                                    "contract_title": "x"}}).get_json()
    response = team.admin.post(f"/api/instances/{started['id']}/retry", json={"variables": {"end_date": "明天"}})
    assert response.status_code in (409, 422)


# ---- 11: a message reaches exactly the instance it concerns ---------------------------------------------

def _active_contract(caller, cid, title, end_date):
    created = caller.post("/api/contracts", json={"customer_id": cid, "title": title, "amount": "88000",
                                                  "start_date": "2026-01-01", "end_date": end_date})
    assert created.status_code == 201, created.get_json()
    contract_id = created.get_json()["id"]
    assert caller.patch(f"/api/contracts/{contract_id}", json={"status": "active"}).status_code == 200
    return contract_id


def _renewals(caller, cid):
    items = caller.get("/api/instances?process_key=renewal_reminder&page_size=50").get_json()["items"]
    return {caller.get(f"/api/instances/{i['id']}").get_json()["variables"]["contract_id"]: i
            for i in items if i["business_key"] == str(cid)}


def test_contract_renewed_ends_only_the_reminders_of_that_contract(sop, team):
    cid = customer(sop)
    first = _active_contract(team.admin, cid, "2027年度合同", "2027-03-31")
    second = _active_contract(team.admin, cid, "2028年度合同", "2028-03-31")
    message = {"name": "contract renewed", "business_key": str(cid)}
    ambiguous = team.boss.post("/api/messages", json=message)
    assert ambiguous.status_code == 409 and "correlation" in ambiguous.get_json()["detail"]
    assert {r["status"] for r in _renewals(team.admin, cid).values()} == {"waiting"}
    sent = team.boss.post("/api/messages", json={**message, "correlation": {"contract_id": first}})
    assert sent.status_code == 200, sent.get_json()
    renewals = _renewals(team.admin, cid)
    assert sent.get_json()["delivered_to"] == [renewals[first]["id"]]
    assert renewals[first]["status"] == "complete" and renewals[second]["status"] == "waiting"
    assert team.boss.post("/api/messages", json={**message, "correlation": {"contract_id": 999}}).status_code == 404


def test_renewing_after_the_renewal_opportunity_was_opened_wins_it(sop, team):
    from datetime import timedelta

    cid = customer(sop)
    contract_id = _active_contract(team.admin, cid, "年度合同", (clock.now() + timedelta(days=90)).date().isoformat())
    clock.advance(timedelta(days=31))
    run_due(sop)
    [opportunity] = team.admin.get(f"/api/opportunities?customer_id={cid}").get_json()["items"]
    assert opportunity["stage"] not in ("won", "lost")
    sent = team.boss.post("/api/messages", json={"name": "contract renewed", "business_key": str(cid),
                                                 "correlation": {"contract_id": contract_id}})
    assert sent.status_code == 200, sent.get_json()
    instance = team.admin.get(f"/api/instances/{sent.get_json()['delivered_to'][0]}").get_json()
    assert instance["status"] == "complete", instance
    assert team.admin.get(f"/api/opportunities/{opportunity['id']}").get_json()["stage"] == "won"


# ---- 12: renewal reminders once the end date is known; one care revisit plan per customer --------------

def test_an_end_date_set_after_activation_starts_the_renewal_reminders(sop, team):
    cid = customer(sop)
    created = team.admin.post("/api/contracts", json={"customer_id": cid, "title": "框架合同", "start_date": "2026-01-01"})
    contract_id = created.get_json()["id"]
    assert team.admin.patch(f"/api/contracts/{contract_id}", json={"status": "active"}).status_code == 200
    assert _renewals(team.admin, cid) == {}
    assert team.admin.patch(f"/api/contracts/{contract_id}", json={"end_date": "2027-12-31"}).status_code == 200
    renewals = _renewals(team.admin, cid)
    assert list(renewals) == [contract_id] and renewals[contract_id]["status"] == "waiting"
    assert team.admin.patch(f"/api/contracts/{contract_id}", json={"end_date": "2028-01-31"}).status_code == 200
    assert len(_renewals(team.admin, cid)) == 1


def test_a_corrected_end_date_moves_the_renewal_reminders_with_it(sop, team):
    """The reminders count down to the date the contract ends now, not to the one first typed: the running
    ones end (their event says why) and new ones start, in the change's own transaction."""
    cid = customer(sop)
    contract_id = _active_contract(team.admin, cid, "年度合同", "2027-12-20")
    [old] = _renewals(team.admin, cid).values()
    other = _active_contract(team.admin, cid, "另一份合同", "2027-06-30")  # the customer's other contract: untouched
    before = {t["element_id"]: t["due_at"] for t in team.admin.get(f"/api/instances/{old['id']}").get_json()["timers"]}
    assert team.admin.patch(f"/api/contracts/{contract_id}", json={"end_date": "2027-11-20"}).status_code == 200
    listed = team.admin.get("/api/instances?process_key=renewal_reminder&page_size=50").get_json()["items"]
    shown = {i["id"]: team.admin.get(f"/api/instances/{i['id']}").get_json() for i in listed}
    mine = {i: d for i, d in shown.items() if d["variables"]["contract_id"] == contract_id}
    assert shown[old["id"]]["status"] == "cancelled"
    events = team.admin.get(f"/api/instances/{old['id']}/events").get_json()["items"]
    assert "end date changed from 2027-12-20 to 2027-11-20" in str(events[-1]["detail"]), events[-1]
    [new] = [d for i, d in mine.items() if i != old["id"]]
    assert new["status"] == "waiting" and new["variables"]["end_date"] == "2027-11-20"
    after = {t["element_id"]: t["due_at"] for t in new["timers"]}
    assert after.keys() == before.keys() and all(after[k] < before[k] for k in after), (before, after)
    assert [d["status"] for d in shown.values() if d["variables"]["contract_id"] == other] == ["waiting"]


def test_each_activated_contract_does_not_start_another_care_revisit(sop, team):
    cid = customer(sop)
    for year in (2027, 2028, 2029):
        _active_contract(team.admin, cid, f"{year}年度合同", f"{year}-12-31")
    items = team.admin.get("/api/instances?process_key=care_revisit").get_json()["items"]
    assert [i["business_key"] for i in items if i["status"] not in ("complete", "cancelled")] == [str(cid)]


# ---- 9: manual assignment names a real user; a reassigned task takes its lead along ----------------------

def _lead_instance(caller, region="310000", industry=None, source="website"):
    created = caller.post("/api/leads", json={"name": "张伟", "company": "星辰科技", "phone": "13800138000"})
    assert created.status_code == 201, created.get_json()
    lead_id = created.get_json()["id"]
    started = caller.post("/api/instances", json={
        "process_key": "lead_assignment", "business_key": f"lead:{lead_id}",
        "variables": {"lead_id": lead_id, "region": region, "industry": industry, "source": source}})
    assert started.status_code == 201, started.get_json()
    return lead_id, started.get_json()


def _open_task(caller, instance_id, element_id):
    [task] = [t for t in caller.get(f"/api/instances/{instance_id}").get_json()["tasks"] if t["element_id"] == element_id]
    return task


def test_manual_assignment_refuses_a_user_who_does_not_exist(sop, team):
    lead_id, instance = _lead_instance(team.admin, region="110000", industry="C36", source="exhibition")
    task = _open_task(team.admin, instance["id"], "assign_by_hand")
    refused = team.boss.post(f"/api/tasks/{task['id']}/complete", json={"variables": {"agent": "不存在的人"}})
    assert refused.status_code == 422 and "不存在的人" in refused.get_json()["errors"]["agent"][0]
    assert team.admin.get(f"/api/leads/{lead_id}").get_json()["owner"] is None
    done = team.boss.post(f"/api/tasks/{task['id']}/complete", json={"variables": {"agent": "wang"}})
    assert done.status_code == 200, done.get_json()
    assert team.admin.get(f"/api/leads/{lead_id}").get_json()["owner"] == "wang"


def test_a_reassigned_first_contact_moves_the_lead_and_the_next_step_to_the_new_agent(sop, team):
    lead_id, instance = _lead_instance(team.admin)
    task = _open_task(team.admin, instance["id"], "first_contact")
    assert task["assignee"] == "li"
    moved = team.boss.post(f"/api/tasks/{task['id']}/assign", json={"user": "wang"})
    assert moved.status_code == 200, (task["candidate_groups"], moved.get_json())
    lead = team.wang.get(f"/api/leads/{lead_id}")
    assert lead.status_code == 200 and lead.get_json()["owner"] == "wang"
    assert team.wang.post(f"/api/tasks/{task['id']}/complete",
                          json={"variables": {"outcome": "reached"}}).status_code == 200
    assert _open_task(team.admin, instance["id"], "qualify")["assignee"] == "wang"


def test_a_record_cannot_be_given_to_a_user_who_does_not_exist(sop, team):
    lead_id = team.admin.post("/api/leads", json={"name": "张伟", "company": "星辰科技"}).get_json()["id"]
    refused = team.admin.patch(f"/api/leads/{lead_id}", json={"owner": "不存在的人"})
    assert refused.status_code == 422 and "owner" in refused.get_json()["errors"]


# ---- 10: instance variables are those of the step now open, not one escalation behind ----------------

def test_variables_follow_each_escalation(sop, team):
    from datetime import timedelta

    from engine.identity import IdentityStore

    IdentityStore(sop.db).add_user("manager1", "supervisor", ["managers"])
    cid = customer(sop)
    started = team.admin.post("/api/instances", json={"process_key": "complaint_escalation", "business_key": str(cid),
                                                      "variables": {"subject": "设备故障", "severity": "normal"}})
    iid = started.get_json()["id"]
    assert started.get_json()["variables"]["handler"] == "wang"
    for level, who in ((1, "boss"), (2, "manager1")):
        clock.advance(timedelta(minutes=31))
        run_due(sop)
        instance = team.admin.get(f"/api/instances/{iid}").get_json()
        [task] = instance["tasks"]
        assert task["assignee"] == who
        assert (instance["variables"]["level"], instance["variables"]["handler"]) == (level, who), instance["variables"]


# ---- 14: a cancelled complaint closes its ticket; the next step has a holder; health follows check-ins ---

def test_a_negative_check_in_recomputes_the_health_score(sop, team):
    from engine.customers import define_template

    define_template(sop, "visit", "拜访打卡", [
        {"name": "feedback", "label": "客户反馈", "type": "single", "options": ["满意", "不满意"], "required": True}],
        actor="admin")
    cid = customer(sop)
    assert team.wang.get(f"/api/customers/{cid}").get_json()["health"] is None
    made = team.wang.post("/api/checkins", json={"customer_id": cid, "scenario": "visit",
                                                  "values": {"feedback": "不满意"}})
    assert made.status_code == 201, made.get_json()
    health = team.wang.get(f"/api/customers/{cid}").get_json()["health"]
    assert health["score"] == 90 and health["factors"]["negative_checkins_90d"] == 1


def test_cancelling_a_complaint_closes_its_ticket(sop, team):
    cid = customer(sop)
    started = team.admin.post("/api/instances", json={"process_key": "complaint_escalation", "business_key": str(cid),
                                                      "variables": {"subject": "设备故障", "severity": "low"}}).get_json()
    ticket_id = started["variables"]["ticket_id"]
    assert team.admin.get(f"/api/tickets/{ticket_id}").get_json()["status"] == "open"
    cancelled = team.boss.post(f"/api/instances/{started['id']}/cancel", json={"reason": "客户撤诉"})
    assert cancelled.status_code == 200, cancelled.get_json()
    assert team.admin.get(f"/api/tickets/{ticket_id}").get_json()["status"] == "closed"
    health = team.admin.get(f"/api/customers/{cid}").get_json()["health"]
    assert health is None or health["factors"]["open_complaints"] == 0


def test_after_a_supervisor_accepts_an_escalated_complaint_the_next_step_is_theirs(sop, team):
    from datetime import timedelta

    cid = customer(sop)
    iid = team.admin.post("/api/instances", json={"process_key": "complaint_escalation", "business_key": str(cid),
                                                  "variables": {"subject": "设备故障"}}).get_json()["id"]
    for _ in range(2):  # agent -> supervisor -> manager level, where nobody is a manager
        clock.advance(timedelta(minutes=31))
        run_due(sop)
    [accept] = team.admin.get(f"/api/instances/{iid}").get_json()["tasks"]
    assert accept["assignee"] is None
    assert team.boss.post(f"/api/tasks/{accept['id']}/claim").status_code == 200
    done = team.boss.post(f"/api/tasks/{accept['id']}/complete", json={"variables": {"accepted_note": "我来处理"}})
    assert done.status_code == 200, done.get_json()
    [analyse] = team.admin.get(f"/api/instances/{iid}").get_json()["tasks"]
    assert analyse["element_id"] == "analyse" and analyse["assignee"] == "boss"


# ---- 23: the inbox says what each task is and whom it is about --------------------------------------

def test_the_inbox_lists_the_title_and_the_customers_name_and_phone(sop, team):
    cid = customer(sop, phone="13912345678")
    started = team.admin.post("/api/instances", json={"process_key": "followup_task", "business_key": str(cid), "variables": {
        "title": "跟进续约：2027年度合同", "note": "", "assignee": "wang", "kind": "renewal", "due": "P3D",
        "candidate_group": "sales", "customer_id": cid}})
    assert started.status_code == 201, started.get_json()
    [task] = team.wang.get("/api/tasks").get_json()["items"]
    assert task["name"] == "跟进任务" and task["title"] == "跟进续约：2027年度合同"
    assert task["about"] == {"kind": "customer", "id": cid, "name": "上海星辰科技有限公司", "phone": "+8613912345678"}
    assert team.wang.get(f"/api/tasks/{task['id']}").get_json()["about"]["phone"] == "+8613912345678"
    lead_id, instance = _lead_instance(team.admin)
    [lead_task] = [t for t in team.li.get("/api/tasks").get_json()["items"] if t["instance_id"] == instance["id"]]
    assert lead_task["title"] == "首次联系" and lead_task["about"]["kind"] == "lead"
    assert lead_task["about"]["phone"] == "+8613800138000"


# ---- 13: converting a lead through the API links the customer it matches, as the SOP does -------------

def test_converting_a_lead_links_the_existing_customer_instead_of_duplicating_it(sop, team):
    cid = customer(sop, name="星辰科技", phone="13800138000")
    lead_id = team.admin.post("/api/leads", json={"name": "张伟", "company": "星辰科技", "phone": "13800138000"}).get_json()["id"]
    converted = team.admin.post(f"/api/leads/{lead_id}/convert", json={})
    assert converted.status_code == 201, converted.get_json()
    body = converted.get_json()
    assert body["customer"]["id"] == cid and body["linked"] is True and body["matched_by"]
    assert team.admin.get("/api/customers").get_json()["total"] == 1
    assert team.admin.get(f"/api/leads/{lead_id}").get_json()["customer_id"] == cid
    other = team.admin.post("/api/leads", json={"name": "李娜", "company": "星辰科技", "phone": "13800138000"}).get_json()["id"]
    separate = team.admin.post(f"/api/leads/{other}/convert", json={"link_existing": False}).get_json()
    assert separate["linked"] is False and separate["customer"]["id"] != cid


# ---- 16: a reverted import's customer ids are never handed out again; the revert is in their history ----

def test_ids_of_a_reverted_import_are_not_reused_and_the_revert_is_recorded(sop, team):
    csv = "客户名称,联系电话\n甲公司,13911110001\n乙公司,13911110002\n".encode("utf-8")
    imported = team.admin.post("/api/imports", data={"file": (io.BytesIO(csv), "客户.csv"), "dry_run": "false"},
                               content_type="multipart/form-data")
    assert imported.status_code == 201, imported.get_json()
    batch = imported.get_json()["batch_id"]
    ids = sorted(c["id"] for c in team.admin.get("/api/customers").get_json()["items"])
    assert team.admin.post(f"/api/imports/{batch}/revert").status_code == 200
    made = team.admin.post("/api/customers", json={"name": "丙公司"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["customer"]["id"] > max(ids)
    new_history = team.admin.get(f"/api/customers/{made.get_json()['customer']['id']}/history").get_json()["items"]
    assert [h["action"] for h in new_history] == ["created"]
    from engine.customers.common import history

    assert [h["action"] for h in history(sop, "customer", max(ids))[0]] == ["created", "deleted"]
