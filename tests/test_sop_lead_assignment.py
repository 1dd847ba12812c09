"""Lead assignment SOP: routing table -> team -> agent, first contact in 2 working hours (else the team
lead), qualification due in 3 days, no follow-up for 30 days returns the lead to the pool (the follow-up
clock and the conversion of a qualified lead: test_sop_lead_followup.py)."""
from datetime import timedelta

import pytest
from sop_support import complete, deploy_library, events, lead, messages, move, move_to, tasks, team_setup

from engine.customers import list_customers
from engine.customers.records import get_record
from engine.sop.assign import set_availability


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    return engine


def _start(engine, lead_id, region="310000", industry=None, source="website"):
    return engine.start("lead_assignment", business_key=f"lead:{lead_id}",
                        variables={"lead_id": lead_id, "region": region, "industry": industry, "source": source})


def test_a_lead_is_routed_assigned_contacted_and_qualified(sop):
    lead_id = lead(sop, region="上海市")
    iid = _start(sop, lead_id)
    first = tasks(sop, iid)["first_contact"]
    assert first["assignee"] == "li"  # round-robin in sales-east, alphabetical from the start: li, wang, zhao
    assert get_record(sop, "lead", lead_id)["owner"] == "li"
    assert get_record(sop, "lead", lead_id)["team"] == "sales-east"
    [assigned] = events(sop, "lead_assigned", iid)
    assert assigned["team"] == "sales-east" and assigned["strategy"] == "round_robin"
    assert "round-robin in sales-east" in assigned["reason"]

    complete(sop, iid, "first_contact", {"outcome": "reached"})
    assert get_record(sop, "lead", lead_id)["status"] == "contacted"
    complete(sop, iid, "qualify", {"qualified": True, "budget": 50000})
    converted = get_record(sop, "lead", lead_id)
    assert converted["status"] == "converted" and converted["customer_id"] and converted["opportunity_id"]
    assert sop.instance(iid)["status"] == "complete"


def test_a_lead_qualified_as_not_a_real_opportunity_is_disqualified_and_creates_nothing(sop):
    lead_id = lead(sop)
    iid = _start(sop, lead_id)
    complete(sop, iid, "first_contact", {"outcome": "reached"})
    complete(sop, iid, "qualify", {"qualified": False, "note": "只是询价"})
    record = get_record(sop, "lead", lead_id)
    assert record["status"] == "disqualified" and record["customer_id"] is None
    assert list_customers(sop)[1] == 0
    assert sop.instance(iid)["status"] == "complete" and sop.instance(iid)["timers"] == []


def test_the_routing_table_sends_key_accounts_to_the_key_account_team_least_loaded(sop):
    from sop_support import users
    users(sop, ("ma", "agent", ["sales-key"]), ("niu", "agent", ["sales-key"]))
    iid = _start(sop, lead(sop), region="110000", industry="C36", source="exhibition")
    variables = sop.instance(iid)["variables"]
    assert variables["team"] == "sales-key" and variables["strategy"] == "least_loaded"
    assert variables["agent"] in ("ma", "niu")
    assert "random pick among 2 tied" in variables["assign_reason"]
    other = _start(sop, lead(sop), region="110000", industry="C", source="partner")
    assert {variables["agent"], sop.instance(other)["variables"]["agent"]} == {"ma", "niu"}  # the less loaded one


def test_first_contact_missed_for_two_working_hours_goes_to_the_team_lead(sop):
    iid = _start(sop, lead(sop))
    due = tasks(sop, iid)["first_contact"]["due_at"]
    move_to(sop, due - timedelta(minutes=5), past=timedelta(0))
    assert "first_contact" in tasks(sop, iid)
    move_to(sop, due)
    open_now = tasks(sop, iid)
    assert "first_contact" not in open_now
    assert open_now["lead_contact"]["assignee"] == "chen"  # the supervisor in sales-east
    [escalated] = events(sop, "escalated", iid)
    assert escalated["stage"] == "首次联系" and escalated["agent"] == "li" and escalated["role"] == "supervisor"
    assert any(m["channel"] == "supervisors" and "首次联系" in m["text"] for m in messages(sop))
    complete(sop, iid, "lead_contact", {"outcome": "reached"})
    assert "qualify" in tasks(sop, iid)


def test_qualification_overdue_after_three_days_reminds_the_supervisors_and_keeps_the_task(sop):
    iid = _start(sop, lead(sop))
    complete(sop, iid, "first_contact", {"outcome": "reached"})
    move(sop, timedelta(days=3, minutes=1))
    assert "qualify" in tasks(sop, iid)
    assert any("资格确认已超过3天" in m["text"] for m in messages(sop))


def test_no_follow_up_for_thirty_days_returns_the_lead_to_the_pool(sop):
    lead_id = lead(sop)
    iid = _start(sop, lead_id)
    complete(sop, iid, "first_contact", {"outcome": "no_answer"})
    move(sop, timedelta(days=30) - timedelta(minutes=1))
    assert get_record(sop, "lead", lead_id)["owner"] == "li"
    assert "qualify" in tasks(sop, iid)
    move(sop, timedelta(minutes=2))
    assert get_record(sop, "lead", lead_id)["owner"] is None
    assert sop.instance(iid)["status"] == "complete"
    assert tasks(sop, iid) == {}  # the qualification task left li's inbox with the lead
    [back] = events(sop, "returned_to_pool", iid)
    assert back["from"] == "li" and back["reason"] == "30天未跟进"


def test_when_nobody_can_take_the_lead_a_supervisor_assigns_it_by_hand(sop):
    from engine.identity import IdentityStore
    IdentityStore(sop.db).update_user("li", active=False)
    set_availability(sop, "wang", on_leave_from="2000-01-01", on_leave_until="2999-12-31")
    set_availability(sop, "zhao", max_open=0)
    lead_id = lead(sop)
    iid = _start(sop, lead_id)
    [unassigned] = events(sop, "lead_unassigned", iid)
    assert unassigned["skipped"] == {"li": "inactive", "wang": "on leave until 2999-12-31",
                                     "zhao": "at quota (0/0 open items)"}
    assert "assign_by_hand" in tasks(sop, iid)
    complete(sop, iid, "assign_by_hand", {"agent": "zhao"}, actor="chen")
    assert get_record(sop, "lead", lead_id)["owner"] == "zhao"
    assert tasks(sop, iid)["first_contact"]["assignee"] == "zhao"
