"""Renewal reminders (minus 60/30/7 days, a "contract renewed" message ends them) and care revisits
(day 7, 30 and 90 with a survey; a low score opens a complaint)."""
from datetime import date, timedelta

import pytest
from sop_support import (complete, customer, deploy_library, events, instances_of, messages, move, move_to, tasks,
                         team_setup)

from engine import clock
from engine.customers.records import list_records
from engine.clock import utc


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    return engine


def _renewal(engine, days_left=90):
    cid = customer(engine)
    end = (clock.now() + timedelta(days=days_left)).date()
    iid = engine.start("renewal_reminder", business_key=str(cid), variables={
        "contract_id": 11, "contract_title": "2026年度服务合同", "end_date": end.isoformat(), "amount": 120000})
    return cid, iid, end


def _due(engine, iid):
    return min(utc(t["due_at"]) for t in engine.instance(iid)["timers"])


def test_renewal_reminders_at_minus_60_30_and_7_days_then_the_supervisor(sop):
    cid, iid, end = _renewal(sop)
    assert list_records(sop, "opportunity", customer_id=cid)[1] == 0
    move_to(sop, _due(sop, iid))  # minus 60 days: opportunity and a task for the owner
    [opportunity], _ = list_records(sop, "opportunity", customer_id=cid)
    assert opportunity["name"] == "续约：2026年度服务合同" and opportunity["owner"] == "wang"
    [task_instance] = instances_of(sop, "followup_task")
    assert tasks(sop, task_instance)["do_task"]["assignee"] == "wang"
    assert not any("续约提醒" in m["text"] for m in messages(sop))
    move_to(sop, _due(sop, iid))  # minus 30: a reminder
    assert any("续约提醒" in m["text"] and end.isoformat() in m["text"] for m in messages(sop))
    move_to(sop, _due(sop, iid))  # minus 7: escalation to the supervisor
    assert tasks(sop, iid)["supervisor_follow_up"]["assignee"] == "chen"
    assert events(sop, "escalated", iid)[0]["stage"] == "续约"
    complete(sop, iid, "supervisor_follow_up", {"renewal_outcome": "lost", "note": "客户预算削减"})
    assert sop.instance(iid)["status"] == "complete"
    assert events(sop, "sop_outcome", iid)[0]["result"] == "lost"


def test_a_contract_renewed_message_ends_the_reminders_early(sop):
    cid, iid, _ = _renewal(sop)
    move_to(sop, _due(sop, iid))  # minus 60 done
    assert sop.correlate_message("contract renewed", business_key=str(cid)) == [iid]
    instance = sop.instance(iid)
    assert instance["status"] == "complete" and instance["timers"] == []
    assert events(sop, "sop_outcome", iid)[0]["result"] == "renewed"
    move(sop, timedelta(days=90))
    assert events(sop, "escalated", iid) == []


def _revisits(engine, cid):
    signed = date.fromisoformat(clock.now().date().isoformat())
    return engine.start("care_revisit", business_key=str(cid), variables={"signed_on": signed.isoformat(),
                                                                           "owner": "wang"})


def test_care_revisits_at_day_7_30_and_90_record_satisfaction(sop):
    cid = customer(sop)
    iid = _revisits(sop, cid)
    for day, answer in ((7, {"csat": 5, "nps": 9}), (30, {"csat": 4, "nps": 8}), (90, {"csat": 5, "nps": 10})):
        assert tasks(sop, iid) == {}
        move_to(sop, _due(sop, iid))
        assert tasks(sop, iid)["revisit"]["assignee"] == "wang"
        complete(sop, iid, "revisit", answer)
    assert sop.instance(iid)["status"] == "complete"
    assert [e["revisit"] for e in events(sop, "survey_recorded", iid)] == [7, 30, 90]
    assert instances_of(sop, "complaint_escalation") == []


def test_a_low_revisit_score_opens_a_complaint_instance(sop):
    cid = customer(sop)
    iid = _revisits(sop, cid)
    move_to(sop, _due(sop, iid))
    complete(sop, iid, "revisit", {"csat": 2, "nps": 3, "comment": "安装师傅迟到"})
    [complaint] = instances_of(sop, "complaint_escalation")
    started = sop.instance(complaint)
    assert started["business_key"] == str(cid)
    assert started["variables"]["subject"] == "第7天回访低分：安装师傅迟到"
    assert "accept" in tasks(sop, complaint)
    assert sop.instance(iid)["variables"]["complaint_instance"] == complaint
    assert sop.instance(iid)["status"] == "waiting"  # the day-30 revisit is still to come
