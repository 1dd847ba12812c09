"""The 360° timeline: process events, tasks, check-ins, ownership and contract events, newest first."""
from datetime import timedelta

import pytest

from conftest import bpmn_file
from engine import clock
from engine.customers import create_checkin, create_customer, define_template, get_customer, timeline
from engine.customers.interactions import record_interaction
from engine.customers.ownership import transfer
from engine.customers.records import create_record, update_record
from engine.errors import NotFound

from customers_helpers import add_user, seeded


def test_everything_about_a_customer_in_one_list_newest_first(engine):
    seeded(engine)
    add_user(engine, "li", groups=["sales-east"])
    add_user(engine, "wang", groups=["sales-east"])
    customer, _ = create_customer(engine, {"name": "甲公司", "owner": "li"}, actor="admin")
    other, _ = create_customer(engine, {"name": "乙公司"}, actor="admin")
    cid = customer["id"]
    engine.deploy([bpmn_file("first_contact.bpmn")])
    clock.advance(timedelta(minutes=1))
    instance_id = engine.start("first_contact", str(cid), {"owner": "li"}, actor="li")
    engine.start("first_contact", str(other["id"]), {"owner": "li"}, actor="li")
    task = engine.instance(instance_id)["tasks"][0]
    clock.advance(timedelta(minutes=1))
    assert get_customer(engine, cid)["last_interaction_at"] is None
    engine.complete_task(task["id"], {"outcome": "reached"}, actor="li")
    # Completing a task of the customer's process is a follow-up, recorded in the same transaction.
    assert get_customer(engine, cid)["last_interaction_at"] is not None
    assert get_customer(engine, other["id"])["last_interaction_at"] is None
    clock.advance(timedelta(minutes=1))
    define_template(engine, "visit", "拜访", [{"name": "note", "type": "text"}])
    create_checkin(engine, "visit", cid, "li", {"note": "见了老板"})
    clock.advance(timedelta(minutes=1))
    contract = create_record(engine, "contract", {"customer_id": cid, "title": "年度服务合同", "amount": "120000",
                                                  "start_date": "2027-01-01", "end_date": "2027-12-31"}, actor="li")
    clock.advance(timedelta(minutes=1))
    update_record(engine, "contract", contract["id"], {"status": "active"}, actor="li")
    clock.advance(timedelta(minutes=1))
    transfer(engine, cid, "wang", actor="boss", note="调岗")
    clock.advance(timedelta(minutes=1))
    record_interaction(engine, cid, "visit", actor="wang", note="上门")

    items, total = timeline(engine, cid, page=1, page_size=100)
    assert total == len(items)
    times = [i["at"] for i in items]
    assert times == sorted(times, reverse=True)
    kinds = [(i["type"], i["action"]) for i in items]
    assert kinds[:4] == [("interaction", "visit"), ("ownership", "moved"), ("change", "contract_updated"),
                         ("change", "contract_created")]
    assert ("checkin", "checkin") in kinds and ("process", "task_completed") in kinds
    assert ("task", "task_open") in kinds                      # the next task, still open
    assert ("ownership", "assigned") in kinds and ("change", "customer_created") in kinds
    assert all(i.get("instance_id") in (None, instance_id) for i in items)  # nothing of the other customer
    contract_change = next(i for i in items if i["action"] == "contract_updated")
    assert contract_change["changes"] == {"status": ["draft", "active"]}

    first, total2 = timeline(engine, cid, page=1, page_size=3)
    second, _ = timeline(engine, cid, page=2, page_size=3)
    assert total2 == total and first + second == items[:6]


def test_unknown_customer(engine):
    with pytest.raises(NotFound):
        timeline(engine, 12345)
