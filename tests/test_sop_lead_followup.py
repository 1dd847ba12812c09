"""Lead assignment SOP, the parts after first contact: every follow-up on a lead (a task completed in a
process about it, a call or visit logged on it) starts its 30-day clock over, so a lead worked on stays
with its owner however long qualification takes; a qualified lead becomes a customer (or is linked to
the customer it already is) with an opportunity at stage initial_contact."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sop_support import complete, customer, deploy_library, events, lead, messages, move, tasks, team_setup

from engine.customers import get_customer, list_customers
from engine.customers.normalize import credit_check_char
from engine.customers.interactions import record_lead_interaction
from engine.customers.records import convert_lead, create_record, get_record, list_records
from engine.customers.schema import interactions
from engine.errors import Conflict


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    return engine


def _contacted(engine, **lead_data):
    """A new lead, routed to li (round-robin in sales-east) and reached: qualification is open."""
    lead_id = lead(engine, **lead_data)
    iid = engine.start("lead_assignment", business_key=f"lead:{lead_id}",
                       variables={"lead_id": lead_id, "region": "310000", "industry": None, "source": "website"})
    complete(engine, iid, "first_contact", {"outcome": "reached"})
    return lead_id, iid


def _code(first17="91310115MA1H7AB2C"):
    return first17 + credit_check_char(first17)


# ---- the 30-day clock -----------------------------------------------------------------------------
def test_a_lead_followed_up_regularly_stays_with_its_owner_while_qualification_takes_longer(sop):
    lead_id, iid = _contacted(sop)
    move(sop, timedelta(days=20))
    record_lead_interaction(sop, lead_id, "call", actor="li", note="客户在走内部审批")
    move(sop, timedelta(days=15))  # day 35: 30 days after first contact, 15 after the call
    assert get_record(sop, "lead", lead_id)["owner"] == "li"
    assert "qualify" in tasks(sop, iid)
    assert sop.instance(iid)["variables"]["follow_up_stale"] is False

    move(sop, timedelta(days=10))  # day 45
    follow_up = sop.start("followup_task", business_key=f"lead:{lead_id}",
                          variables={"assignee": "li", "due": "P7D"})
    complete(sop, follow_up, "do_task", {"result": "上门拜访，演示产品"})
    move(sop, timedelta(days=29))  # day 74: 54 days after the call, 29 after the visit task
    assert get_record(sop, "lead", lead_id)["owner"] == "li"
    assert events(sop, "returned_to_pool", iid) == []

    move(sop, timedelta(days=1, minutes=1))  # 30 days after the last follow-up
    assert get_record(sop, "lead", lead_id)["owner"] is None
    assert tasks(sop, iid) == {} and sop.instance(iid)["status"] == "complete"
    [back] = events(sop, "returned_to_pool", iid)
    assert back["from"] == "li"


def test_a_lead_left_alone_returns_to_the_pool_on_day_thirty_even_with_the_qualification_reminder(sop):
    lead_id, iid = _contacted(sop)
    move(sop, timedelta(days=3, minutes=1))
    assert any("资格确认已超过3天" in m["text"] for m in messages(sop))
    move(sop, timedelta(days=27) - timedelta(minutes=2))  # 29 days 23:59 after first contact
    assert get_record(sop, "lead", lead_id)["owner"] == "li"
    move(sop, timedelta(minutes=2))
    assert get_record(sop, "lead", lead_id)["owner"] is None
    assert sop.instance(iid)["status"] == "complete"


def test_a_call_logged_on_a_lead_that_does_not_exist_is_refused(sop):
    from engine.errors import InvalidInput, NotFound
    with pytest.raises(NotFound):
        record_lead_interaction(sop, 999, "call")
    lead_id, _ = _contacted(sop)
    with pytest.raises(InvalidInput):
        record_lead_interaction(sop, lead_id, "checkin")


# ---- conversion -----------------------------------------------------------------------------------
def test_qualifying_a_lead_creates_its_customer_contact_and_opportunity_for_the_owner(sop):
    lead_id, iid = _contacted(sop, company="杭州云帆网络科技有限公司", phone="13912345678")
    record_lead_interaction(sop, lead_id, "visit", actor="li", note="现场需求调研")
    complete(sop, iid, "qualify", {"qualified": True, "budget": 80000, "credit_code": _code()})

    converted = get_record(sop, "lead", lead_id)
    assert converted["status"] == "converted"
    new = get_customer(sop, converted["customer_id"])
    assert (new["name"], new["kind"], new["status"]) == ("杭州云帆网络科技有限公司", "company", "prospect")
    assert (new["owner"], new["team"], new["credit_code"]) == ("li", "sales-east", _code())
    assert new["last_interaction_at"] is not None  # the visit logged on the lead is the customer's now
    [contact], _ = list_records(sop, "contact", customer_id=new["id"])
    assert (contact["name"], contact["phone"], contact["is_primary"]) == ("张伟", "+8613912345678", True)
    opportunity = get_record(sop, "opportunity", converted["opportunity_id"])
    assert opportunity["customer_id"] == new["id"] and opportunity["stage"] == "initial_contact"
    assert (opportunity["owner"], opportunity["team"], float(opportunity["amount"])) == ("li", "sales-east", 80000)
    with sop.db.connect() as conn:
        assert conn.execute(sa.select(interactions.c.customer_id).where(interactions.c.lead_id == lead_id)) \
            .scalar_one() == new["id"]
    assert sop.instance(iid)["status"] == "complete" and sop.instance(iid)["timers"] == []
    [done] = events(sop, "lead_converted", iid)
    assert done["linked"] is False and done["customer_id"] == new["id"]


def test_a_lead_with_an_existing_customers_credit_code_is_linked_to_it(sop):
    existing = customer(sop, name="宁波港湾物流有限公司", owner="wang", credit_code=_code())
    lead_id, iid = _contacted(sop, company="港湾物流")  # another spelling: the credit code decides
    complete(sop, iid, "qualify", {"qualified": True, "credit_code": _code().lower()})

    converted = get_record(sop, "lead", lead_id)
    assert converted["customer_id"] == existing
    assert list_customers(sop)[1] == 1
    assert get_customer(sop, existing)["owner"] == "wang"  # the customer keeps its owner
    opportunity = get_record(sop, "opportunity", converted["opportunity_id"])
    assert opportunity["customer_id"] == existing and opportunity["owner"] == "li"
    [done] = events(sop, "lead_converted", iid)
    assert done["linked"] is True and done["matched_by"] == "credit_code"


def test_a_lead_matching_a_pool_customers_name_is_linked_and_the_lead_owner_takes_the_customer(sop):
    existing = customer(sop, name="上海星辰科技有限公司", owner=None)
    lead_id, iid = _contacted(sop, company="上海星辰科技（中国）有限公司")
    complete(sop, iid, "qualify", {"qualified": True})
    assert get_record(sop, "lead", lead_id)["customer_id"] == existing
    assert get_customer(sop, existing)["owner"] == "li"
    assert events(sop, "lead_converted", iid)[0]["matched_by"] == "name"


def test_a_lead_matching_a_contacts_phone_is_linked_but_another_credit_code_is_another_company(sop):
    known = customer(sop, name="苏州明德教育咨询有限公司", owner="wang")
    create_record(sop, "contact", {"customer_id": known, "name": "刘芳", "phone": "139 1234 5678"})
    lead_id, iid = _contacted(sop, company="明德培训", phone="13912345678")
    complete(sop, iid, "qualify", {"qualified": True})
    assert get_record(sop, "lead", lead_id)["customer_id"] == known

    other = customer(sop, name="上海星辰科技有限公司", owner="wang", credit_code=_code())
    lead_id, iid = _contacted(sop, company="上海星辰科技有限公司")
    complete(sop, iid, "qualify", {"qualified": True, "credit_code": _code("91310000MA1FL0000")})
    created = get_record(sop, "lead", lead_id)["customer_id"]
    assert created != other and get_customer(sop, created)["credit_code"] == _code("91310000MA1FL0000")


def test_a_mistyped_credit_code_does_not_stop_the_conversion(sop):
    lead_id, iid = _contacted(sop, company="深圳蓝海电子有限公司")
    complete(sop, iid, "qualify", {"qualified": True, "credit_code": _code()[:-1] + "0"})
    assert sop.instance(iid)["status"] == "complete"
    converted = get_record(sop, "lead", lead_id)
    assert get_customer(sop, converted["customer_id"])["credit_code"] is None
    assert "check digit" in events(sop, "lead_converted", iid)[0]["ignored"]["credit_code"]


def test_converting_a_lead_by_hand_still_works_once(sop):
    lead_id = lead(sop, company="北京启明软件有限公司", owner="wang", team="sales-east")
    new, _ = convert_lead(sop, lead_id, actor="wang")
    assert get_record(sop, "lead", lead_id)["customer_id"] == new["id"] and new["owner"] == "wang"
    with pytest.raises(Conflict):
        convert_lead(sop, lead_id, actor="wang")

