"""Complaint escalation SOP: accept in 30 minutes, analyse, handle (deadline and path by severity),
revisit; each missed deadline escalates one level (agent, supervisor, manager) with a notification."""
from datetime import timedelta

import pytest
from sop_support import complete, customer, deploy_library, events, messages, move, tasks, team_setup

from engine.customers.records import get_record

ANALYSIS = {"root_cause": "delivery", "product": "云打印机 X2", "contract_id": 7, "related_user": "wang",
            "analysis": "物流延误"}


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    return engine


def _start(engine, severity="normal"):
    cid = customer(engine)
    return cid, engine.start("complaint_escalation", business_key=str(cid),
                             variables={"subject": "打印机到货延误", "severity": severity})


def test_a_complaint_handled_in_time_is_closed_with_its_root_cause_and_satisfaction(sop):
    cid, iid = _start(sop)
    accept = tasks(sop, iid)["accept"]
    assert accept["assignee"] == "wang"  # the customer's owner
    ticket_id = sop.instance(iid)["variables"]["ticket_id"]
    assert get_record(sop, "ticket", ticket_id)["kind"] == "complaint"
    complete(sop, iid, "accept")
    complete(sop, iid, "analyse", ANALYSIS)
    complete(sop, iid, "handle", {"resolution": "补发并赔偿运费"})
    assert get_record(sop, "ticket", ticket_id)["status"] == "resolved"
    complete(sop, iid, "revisit", {"csat": 4, "nps": 8, "comment": "处理及时"})
    assert sop.instance(iid)["status"] == "complete"
    assert get_record(sop, "ticket", ticket_id)["status"] == "closed"
    [outcome] = events(sop, "sop_outcome", iid)
    assert outcome["root_cause"] == "delivery" and outcome["product"] == "云打印机 X2"
    assert outcome["contract_id"] == 7 and outcome["related_user"] == "wang" and outcome["escalation_level"] == 0
    assert events(sop, "survey_recorded", iid)[0]["csat"] == 4
    assert events(sop, "escalated", iid) == []


def test_each_missed_deadline_escalates_one_level_with_a_notification(sop):
    _, iid = _start(sop)
    move(sop, timedelta(minutes=31))
    assert tasks(sop, iid)["accept"]["assignee"] == "chen"  # supervisor
    move(sop, timedelta(minutes=31))
    assert tasks(sop, iid)["accept"]["assignee"] == "boss"  # manager
    move(sop, timedelta(minutes=31))
    assert tasks(sop, iid)["accept"]["assignee"] == "boss"  # a manager stays manager, reminded again
    levels = [(e["from_level"], e["level"], e["role"]) for e in events(sop, "escalated", iid)]
    assert levels == [(0, 1, "supervisor"), (1, 2, "manager"), (2, 2, "manager")]
    sent = [m for m in messages(sop) if "受理投诉" in m["text"]]
    assert [m["channel"] for m in sent] == ["supervisors", "managers", "managers"]
    assert "升级至主管 chen" in sent[0]["text"] and "升级至经理 boss" in sent[1]["text"]


def test_a_later_stage_escalates_from_the_level_reached(sop):
    _, iid = _start(sop, severity="low")
    complete(sop, iid, "accept")
    move(sop, timedelta(hours=4, minutes=1))  # analysis overdue
    assert tasks(sop, iid)["analyse"]["assignee"] == "chen"
    complete(sop, iid, "analyse", ANALYSIS)
    move(sop, timedelta(hours=71))
    assert "handle" in tasks(sop, iid) and len(events(sop, "escalated", iid)) == 1  # low severity: 72 hours
    move(sop, timedelta(hours=1, minutes=1))
    assert tasks(sop, iid)["handle"]["assignee"] == "boss"


def test_a_severe_complaint_alerts_the_managers_and_must_be_handled_in_four_hours(sop):
    _, iid = _start(sop, severity="high")
    complete(sop, iid, "accept")
    complete(sop, iid, "analyse", ANALYSIS)
    assert any(m["channel"] == "managers" and "重大投诉" in m["text"] for m in messages(sop))
    move(sop, timedelta(hours=4, minutes=1))
    assert tasks(sop, iid)["handle"]["assignee"] == "chen"
    [escalated] = events(sop, "escalated", iid)
    assert escalated["stage"] == "处理投诉"
