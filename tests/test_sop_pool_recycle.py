"""The daily public-pool recycling SOP: a warning task for the owner, then the customer goes to the pool."""
from datetime import timedelta

import pytest
from sop_support import customer, deploy_library, events, instances_of, tasks, team_setup

from engine import clock
from engine.customers import get_customer, record_interaction
from engine.background.launchers import Launchers


@pytest.fixture
def sop(engine):
    team_setup(engine)
    deploy_library(engine)
    return engine


def test_an_idle_customer_warns_its_owner_then_returns_to_the_pool(sop):
    idle = customer(sop, "久未跟进客户", owner="wang")
    kept = customer(sop, "常联系客户", owner="li")
    launchers = Launchers(sop)
    launchers.sync()

    clock.advance(timedelta(days=26))             # 5 days before the default 30 run out
    record_interaction(sop, kept, "call", actor="li")
    launchers.launch_due()
    [warning] = instances_of(sop, "followup_task")
    task = tasks(sop, warning)["do_task"]
    assert task["assignee"] == "wang" and "回收到公海" in sop.instance(warning)["variables"]["title"]
    assert get_customer(sop, idle)["owner"] == "wang"

    clock.advance(timedelta(days=1))              # warned once, not every day
    launchers.launch_due()
    assert len(instances_of(sop, "followup_task")) == 1

    clock.advance(timedelta(days=4))              # day 31: no follow-up for 30 days
    launchers.launch_due()
    assert get_customer(sop, idle)["owner"] is None
    assert get_customer(sop, kept)["owner"] == "li"
    assert [e["recycled"] for e in events(sop, "pool_recycled")][-1] == [idle]
