"""Reports over what the SOPs recorded: funnel, first response and SLA breaches, satisfaction,
renewals, check-ins and the leaderboard, filtered by team and period."""
from datetime import timedelta

import pytest
from sop_support import complete, customer, deploy_library, lead, move, move_to, tasks, team_setup, users

from engine import clock
from engine.sop import reports
from engine.customers.records import create_record


@pytest.fixture
def sop(engine):
    deploy_library(engine)
    team_setup(engine)
    users(engine, ("ma", "agent", ["sales-north"]))
    return engine


def _lead(engine, region="310000"):
    lead_id = lead(engine)
    return lead_id, engine.start("lead_assignment", business_key=f"lead:{lead_id}", variables={
        "lead_id": lead_id, "region": region, "industry": None, "source": "website"})


def test_funnel_and_first_response_by_team_and_agent(sop):
    _, first = _lead(sop)
    _, second = _lead(sop)
    _lead(sop, region="110000")  # sales-north
    clock.advance(timedelta(minutes=30))
    complete(sop, first, "first_contact", {"outcome": "reached"})
    complete(sop, first, "qualify", {"qualified": True})
    complete(sop, second, "first_contact", {"outcome": "reached"})
    complete(sop, second, "qualify", {"qualified": False})

    east = reports.funnel(sop, team="sales-east")
    assert east["leads"] == 2 and east["counts"] == {"new": 2, "contacted": 2, "qualified": 1, "converted": 1}
    assert east["stages"][1]["conversion"] == 0.5 and east["disqualified"] == 1
    assert east["stages"][0]["avg_hours"] == pytest.approx(0.5, abs=0.01)
    assert reports.funnel(sop)["leads"] == 3

    first_response = reports.sla(sop, team="sales-east")
    assert {(r["agent"], r["responses"]) for r in first_response["rows"]} == {("li", 1), ("wang", 1)}
    assert all(r["avg_first_response_hours"] == pytest.approx(0.5, abs=0.01) for r in first_response["rows"])
    assert first_response["breaches"] == 0


def test_sla_breaches_are_counted_for_the_agent_who_missed_the_deadline(sop):
    _, iid = _lead(sop)
    move_to(sop, tasks(sop, iid)["first_contact"]["due_at"])  # first contact missed
    breaches = reports.sla(sop, team="sales-east")
    assert [(r["agent"], r["breaches"]) for r in breaches["rows"] if r["breaches"]] == [("li", 1)]
    assert reports.sla(sop, team="sales-north")["breaches"] == 0
    complete(sop, iid, "lead_contact", {"outcome": "reached"}, actor="chen")
    board = {r["agent"]: r for r in reports.leaderboard(sop)["rows"]}
    assert board["chen"]["tasks_done"] == 1 and board["chen"]["on_time"] == 1


def test_satisfaction_trend_and_revisit_completion(sop):
    cid = customer(sop)
    iid = sop.start("care_revisit", business_key=str(cid), variables={"signed_on": clock.now().date().isoformat(),
                                                                       "owner": "wang"})
    move(sop, timedelta(days=8))
    complete(sop, iid, "revisit", {"csat": 5, "nps": 10})
    move(sop, timedelta(days=23))
    complete(sop, iid, "revisit", {"csat": 2, "nps": 5, "comment": "响应慢"})
    report = reports.satisfaction(sop, team="sales-east", since=clock.now() - timedelta(days=60))
    assert report["revisits_due"] == 2 and report["revisits_done"] == 2 and report["completion"] == 1.0
    assert report["low_scores"] == 1
    assert [w["avg_csat"] for w in report["trend"]] == [5, 2] and report["trend"][0]["nps"] == 100.0
    assert reports.satisfaction(sop, team="sales-north", since=clock.now() - timedelta(days=60))["answers"] == 0


def test_renewals_due_and_renewed(sop):
    cid = customer(sop)
    end = (clock.now() + timedelta(days=20)).date()
    contract = create_record(sop, "contract", {"customer_id": cid, "title": "年度服务", "end_date": end.isoformat(),
                                               "start_date": (end - timedelta(days=365)).isoformat()}, actor="t")
    sop.start("renewal_reminder", business_key=str(cid), variables={
        "contract_id": contract["id"], "contract_title": "年度服务", "end_date": end.isoformat(), "amount": 1000})
    sop.correlate_message("contract renewed", business_key=str(cid))
    report = reports.renewals(sop, since=clock.now(), until=clock.now() + timedelta(days=60))
    assert report["due"] == 1 and report["renewed"] == 1 and report["items"][0]["outcome"] == "renewed"
    assert reports.renewals(sop, team="sales-north", since=clock.now(),
                            until=clock.now() + timedelta(days=60))["due"] == 0
