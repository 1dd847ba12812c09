"""The public pool: recycling, warnings, exemptions, claim limits, masking and the claim race."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine import clock
from engine.customers import claim, create_customer, list_pool, record_interaction, recycle_due
from engine.customers.ownership import ownership_history, transfer
from engine.customers.pool import WARNING_TOPIC
from engine.customers.records import create_record
from engine.customers.settings import set_setting
from engine.errors import Conflict, Forbidden
from engine.storage.schema import audit_events, outbox

from customers_helpers import add_user, seeded


@pytest.fixture
def hub(engine):
    seeded(engine)
    for name in ("li", "wang", "zhao"):
        add_user(engine, name, groups=["east"])
    add_user(engine, "chen", groups=["west"])
    return engine


def later(days):
    return clock.now() + timedelta(days=days)


def test_customer_without_follow_up_is_warned_then_recycled(hub):
    customer, _ = create_customer(hub, {"name": "甲公司", "level": "C", "owner": "li", "phone": "13812345678"})
    assert recycle_due(hub, later(24)) == {"warned": [], "recycled": []}
    assert recycle_due(hub, later(26)) == {"warned": [customer["id"]], "recycled": []}
    assert recycle_due(hub, later(27)) == {"warned": [], "recycled": []}  # warned once
    with hub.db.connect() as conn:
        warning = conn.execute(sa.select(outbox).where(outbox.c.topic == WARNING_TOPIC)).one()
    assert warning.payload["owner"] == "li" and warning.payload["customer_id"] == customer["id"]
    assert recycle_due(hub, later(31)) == {"warned": [], "recycled": [customer["id"]]}
    changes = ownership_history(hub, customer["id"])
    assert [(c["reason"], c["from_owner"], c["to_owner"]) for c in changes][-1] == ("recycled", "li", None)
    with hub.db.connect() as conn:
        audit = conn.execute(sa.select(audit_events).where(audit_events.c.action == "customer_owner_changed")
                             .order_by(audit_events.c.id.desc())).first()
    assert audit.detail["reason"] == "recycled" and audit.detail["from"] == "li"


def test_the_period_depends_on_the_level_and_real_interactions_reset_it(hub):
    a, _ = create_customer(hub, {"name": "战略公司", "level": "A", "owner": "li"})   # 90 days
    c, _ = create_customer(hub, {"name": "普通公司", "level": "C", "owner": "li"})   # 30 days
    clock.advance(timedelta(days=20))
    record_interaction(hub, c["id"], "call", actor="li", note="回访")
    assert recycle_due(hub, later(15))["recycled"] == []       # 35 days after creation, 15 after the call
    assert recycle_due(hub, later(31))["recycled"] == [c["id"]]
    assert recycle_due(hub, later(71))["recycled"] == [a["id"]]


def test_edits_are_not_follow_ups(hub):
    from engine.customers import update_customer
    customer, _ = create_customer(hub, {"name": "甲公司", "owner": "li"})
    clock.advance(timedelta(days=29))
    update_customer(hub, customer["id"], {"note": "改了备注"}, actor="li")
    assert recycle_due(hub, later(2))["recycled"] == [customer["id"]]


def test_won_customers_and_open_opportunities_are_exempt(hub):
    won, _ = create_customer(hub, {"name": "成交公司", "owner": "li", "status": "customer"})
    open_, _ = create_customer(hub, {"name": "商机公司", "owner": "li"})
    create_record(hub, "opportunity", {"customer_id": open_["id"], "name": "一期", "stage": "proposal"})
    plain, _ = create_customer(hub, {"name": "普通公司", "owner": "li"})
    assert recycle_due(hub, later(40))["recycled"] == [plain["id"]]
    set_setting(hub, "pool.exempt_open_opportunity", False, actor="admin")
    assert recycle_due(hub, later(40))["recycled"] == [open_["id"]]


def test_contact_details_are_masked_until_claimed(hub):
    customer, _ = create_customer(hub, {"name": "甲公司", "owner": "li", "team": "east", "phone": "13812345678",
                                        "email": "boss@example.cn"})
    recycle_due(hub, later(31))
    listed, total = list_pool(hub, "wang")
    assert total == 1 and listed[0]["phone"] == "+86138****5678" and listed[0]["email"] == "b***@example.cn"
    assert list_pool(hub, "chen") == ([], 0)  # another team's pool
    claimed = claim(hub, customer["id"], "wang")
    assert claimed["phone"] == "+8613812345678" and claimed["owner"] == "wang" and not claimed["in_pool"]


def _pool_of(hub, n, team="east"):
    ids = [create_customer(hub, {"name": f"公司{i}", "owner": "zhao", "team": team})[0]["id"] for i in range(n)]
    recycle_due(hub, later(31))
    clock.advance(timedelta(days=31))
    return ids


def test_claim_limits(hub):
    ids = _pool_of(hub, 5)
    set_setting(hub, "pool.max_claims_per_day", 2, actor="admin")
    claim(hub, ids[0], "li")
    claim(hub, ids[1], "li")
    with pytest.raises(Forbidden, match="claimed 2 customers today"):
        claim(hub, ids[2], "li")
    clock.advance(timedelta(days=1))
    set_setting(hub, "pool.max_held", 3, actor="admin")
    claim(hub, ids[2], "li")
    with pytest.raises(Forbidden, match="already holds 3 customers"):
        claim(hub, ids[3], "li")
    with pytest.raises(Forbidden, match="team 'east'"):
        claim(hub, ids[3], "chen")


def test_previous_owner_waits_for_the_cooldown(hub):
    customer, _ = create_customer(hub, {"name": "甲公司", "owner": "li", "team": "east"})
    recycle_due(hub, later(31))
    clock.advance(timedelta(days=33))
    with pytest.raises(Forbidden, match="may claim it again"):
        claim(hub, customer["id"], "li")
    clock.advance(timedelta(days=7))
    assert claim(hub, customer["id"], "li")["owner"] == "li"


def test_claiming_a_held_customer_is_a_conflict(hub):
    customer, _ = create_customer(hub, {"name": "甲公司", "owner": "li"})
    with pytest.raises(Conflict, match="claimed by li"):
        claim(hub, customer["id"], "wang")


def test_supervisor_moves_and_releases_are_recorded_with_the_reason(hub):
    customer, _ = create_customer(hub, {"name": "甲公司", "owner": "li", "team": "east"})
    transfer(hub, customer["id"], "wang", actor="boss", note="调岗")
    transfer(hub, customer["id"], None, actor="boss")
    assert [(c["reason"], c["to_owner"], c["actor"]) for c in ownership_history(hub, customer["id"])] == \
        [("assigned", "li", None), ("moved", "wang", "boss"), ("released", None, "boss")]
    assert claim(hub, customer["id"], "zhao")["owner"] == "zhao"


def test_two_claimers_at_once_one_wins(hub):
    if hub.db.dialect.name != "postgresql":
        pytest.skip("the race needs row locks (PostgreSQL)")
    for round_ in range(5):
        customer, _ = create_customer(hub, {"name": f"抢手公司{round_}", "owner": "zhao", "team": "east"})
        recycle_due(hub, later(31 + round_ * 31))
        clock.advance(timedelta(days=31 + round_ * 31))
        barrier = threading.Barrier(2)
        outcomes = {}

        def attempt(user, customer_id=customer["id"]):
            barrier.wait()
            try:
                claim(hub, customer_id, user)
                outcomes[user] = "won"
            except Conflict as err:
                outcomes[user] = str(err)

        threads = [threading.Thread(target=attempt, args=(u,)) for u in ("li", "wang")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(v == "won" for v in outcomes.values()) == [False, True], outcomes
        winner = next(u for u, v in outcomes.items() if v == "won")
        loser = next(u for u in outcomes if u != winner)
        assert f"claimed by {winner}" in outcomes[loser]
        claims = [c for c in ownership_history(hub, customer["id"]) if c["reason"] == "claimed"]
        assert [c["to_owner"] for c in claims] == [winner]
