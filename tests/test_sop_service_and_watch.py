"""Service tickets (response and resolution SLAs), the field service watch, the churn watch and health
scores, and assignment under concurrency."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sop_support import complete, customer, deploy_library, events, instances_of, messages, move, move_to, tasks, team_setup

from engine import clock
from engine.customers.checkins import create_checkin, define_template
from engine.customers.interactions import record_interaction
from engine.customers.records import get_record
from engine.clock import utc
from engine.background.launchers import Launchers
from engine.sop.watch import health


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    return engine


def _ticket(engine, cid):
    return engine.start("service_ticket", business_key=str(cid), variables={"subject": "设备无法开机", "priority": "high"})


def test_a_service_ticket_within_both_slas(sop):
    cid = customer(sop)
    iid = _ticket(sop, cid)
    ticket_id = sop.instance(iid)["variables"]["ticket_id"]
    complete(sop, iid, "accept")
    assert get_record(sop, "ticket", ticket_id)["status"] == "in_progress"
    complete(sop, iid, "analyse", {"diagnosis": "电源故障"})
    complete(sop, iid, "handle", {"resolution": "更换电源"})
    complete(sop, iid, "revisit", {"csat": 5})
    assert sop.instance(iid)["status"] == "complete"
    assert get_record(sop, "ticket", ticket_id)["status"] == "closed"
    assert events(sop, "escalated", iid) == []


def test_response_and_resolution_sla_breaches_escalate_without_taking_the_work_away(sop):
    iid = _ticket(sop, customer(sop))
    move_to(sop, utc(tasks(sop, iid)["accept"]["due_at"]))
    assert tasks(sop, iid)["accept"]["assignee"] == "wang"  # non-interrupting: still the agent's
    complete(sop, iid, "accept")
    move(sop, timedelta(days=2, minutes=1))
    assert "analyse" in tasks(sop, iid)
    assert [e["stage"] for e in events(sop, "escalated", iid)] == ["响应", "解决"]
    assert sum("解决" in m["text"] for m in messages(sop)) == 1


def _launch_daily(engine):
    launchers = Launchers(engine)
    launchers.sync()
    with engine.db.connect() as conn:
        from engine.storage.schema import timer_launchers
        due = min(utc(r.next_due_at) for r in conn.execute(sa.select(timer_launchers)))
    clock.advance(due - clock.now() + timedelta(seconds=1))
    return launchers.launch_due()


def test_the_field_service_watch_alerts_owners_and_flags_teams(sop):
    quiet, busy = customer(sop, "无打卡客户"), customer(sop, "常打卡客户", owner="li")
    from engine.customers.records import create_record
    for cid in (quiet, busy):
        create_record(sop, "ticket", {"customer_id": cid, "kind": "service", "subject": "上门维修"}, actor="test")
    define_template(sop, "visit", "上门服务", [{"name": "feedback", "label": "客户反馈", "type": "single",
                                              "options": ["满意", "不满意"]}])
    started = _launch_daily(sop)  # day 1: nobody is 3 days without a check-in yet
    assert events(sop, "checkin_alert") == []
    clock.advance(timedelta(hours=1))
    create_checkin(sop, "visit", busy, "li", {"feedback": "不满意"})
    for step in (timedelta(hours=23), timedelta(days=1)):  # days 2 and 3
        clock.advance(step)
        started += Launchers(sop).launch_due()
    watch = [i for i in started if sop.instance(i)["process_key"] == "checkin_watch"]
    assert watch and all(sop.instance(i)["status"] == "complete" for i in watch)
    [alert] = [e for e in events(sop, "checkin_alert")]
    assert alert["customer_id"] == quiet and alert["owner"] == "wang"
    assert [tasks(sop, i)["do_task"]["assignee"] for i in instances_of(sop, "followup_task")] == ["wang"]
    assert any("打卡预警" in m["text"] and "sales-east" in m["text"] for m in messages(sop))
    assert events(sop, "team_flagged")[0]["share"] == 1.0


def test_the_churn_watch_creates_a_care_task_and_lowers_the_health_score(sop):
    idle, active = customer(sop, "久未联系客户"), customer(sop, "活跃客户", owner="li")
    clock.advance(timedelta(days=31))
    record_interaction(sop, active, "call", actor="li")
    _launch_daily(sop)
    [alert] = events(sop, "churn_alert")
    assert alert["customer_id"] == idle
    [task_instance] = instances_of(sop, "followup_task")
    assert tasks(sop, task_instance)["do_task"]["assignee"] == "wang"
    score = health(sop, idle)
    assert score["score"] == 100 - 30 - 20 and score["factors"]["penalty"]["points"] == 20
    assert health(sop, active)["score"] == 100  # the call recomputed it (issue 12 item 14)
    move(sop, timedelta(days=1, minutes=1))  # the care task is overdue: the supervisors take it
    assert "supervisor_task" in tasks(sop, task_instance)


def test_concurrent_round_robin_assignments_never_pick_the_same_agent_twice_in_a_row(sop):
    from sop_support import lead
    lead_ids = [lead(sop) for _ in range(6)]
    barrier = threading.Barrier(3)
    errors = []

    def assign(ids):
        barrier.wait()
        for lead_id in ids:
            try:
                sop.start("lead_assignment", business_key=f"lead:{lead_id}",
                          variables={"lead_id": lead_id, "region": "310000", "industry": None, "source": "website"})
            except Exception as err:  # noqa: BLE001
                errors.append(err)

    threads = [threading.Thread(target=assign, args=(lead_ids[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    picks = [e["agent"] for e in events(sop, "lead_assigned")]
    assert sorted(picks) == ["li", "li", "wang", "wang", "zhao", "zhao"]  # each agent exactly twice
