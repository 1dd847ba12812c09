"""Reports the SOPs feed: SQL over the stored records (leads, tickets, contracts, check-ins,
interactions) and the audit events the SOPs' operations write (`lead_assigned`, `escalated`,
`survey_recorded`, `sop_outcome`, `checkin_alert`, ...). Each takes a team (None: all) and a date range
[since, until) and answers plain JSON-able dicts; details stored as JSON are read in Python so the same
code runs on PostgreSQL and SQLite.
"""
from collections import defaultdict
from datetime import timedelta
from statistics import mean

import sqlalchemy as sa

from engine import clock
from engine.customers.common import utc
from engine.customers.interactions import customer_id_of
from engine.customers.schema import checkins, contracts, customers, interactions, leads, record_changes, tickets
from engine.storage.schema import audit_events, instances

LEAD_STAGES = ("new", "contacted", "qualified", "converted")
RESPONSE_ELEMENTS = ("first_contact", "lead_contact", "accept")


def _teams(team):
    """`team`: one team's name, or several (a supervisor's teams when none is named)."""
    return [team] if isinstance(team, str) else sorted(team)


def period(since=None, until=None):
    until = until or clock.now()
    return since or until - timedelta(days=30), until


def _events(conn, actions, since, until):
    rows = conn.execute(sa.select(audit_events).where(audit_events.c.action.in_(actions), audit_events.c.at >= since,
                                                      audit_events.c.at < until).order_by(audit_events.c.id))
    return [r for r in rows]


def _hours(delta):
    return round(delta.total_seconds() / 3600, 2)


def funnel(engine, team=None, since=None, until=None) -> dict:
    """Leads created in the period: how many reached each stage, conversion between stages, and the
    average hours spent before moving on (from the leads' change history)."""
    since, until = period(since, until)
    query = sa.select(leads.c.id, leads.c.status, leads.c.created_at).where(leads.c.created_at >= since,
                                                                           leads.c.created_at < until)
    if team:
        query = query.where(leads.c.team.in_(_teams(team)))
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        changes = conn.execute(sa.select(record_changes.c.entity_id, record_changes.c.at, record_changes.c.changes)
                               .where(record_changes.c.entity == "lead", record_changes.c.entity_id.in_(ids),
                                      record_changes.c.action == "updated")
                               .order_by(record_changes.c.id)).all() if ids else []
    reached = defaultdict(dict)  # lead -> {stage: first time}
    for r in rows:
        reached[r.id]["new"] = utc(r.created_at)
    for c in changes:
        status = (c.changes or {}).get("status")
        if status and status[1] in LEAD_STAGES:
            reached[c.entity_id].setdefault(status[1], utc(c.at))
    counts = {stage: sum(1 for r in reached.values() if stage in r) for stage in LEAD_STAGES}
    stages = []
    for before, after in zip(LEAD_STAGES, LEAD_STAGES[1:]):
        waits = [_hours(r[after] - r[before]) for r in reached.values() if before in r and after in r]
        stages.append({"from": before, "to": after, "count": counts[after],
                       "conversion": round(counts[after] / counts[before], 4) if counts[before] else None,
                       "avg_hours": round(mean(waits), 2) if waits else None})
    lost = sum(1 for r in rows if r.status == "disqualified")
    return {"team": team, "since": since, "until": until, "leads": len(rows), "counts": counts, "stages": stages,
            "disqualified": lost}


def _team_of_key(conn, business_key, cache):
    if business_key in cache:
        return cache[business_key]
    team = None
    key = str(business_key or "")
    if key.startswith("lead:") and key[5:].isdigit():
        team = conn.execute(sa.select(leads.c.team).where(leads.c.id == int(key[5:]))).scalar()
    elif customer_id_of(key) is not None:
        team = conn.execute(sa.select(customers.c.team).where(customers.c.id == customer_id_of(key))).scalar()
    cache[business_key] = team
    return team


def sla(engine, team=None, since=None, until=None) -> dict:
    """First-response time (instance start to the first response task completed: first contact or
    accepting a ticket) and SLA breaches (escalations), by team and agent."""
    since, until = period(since, until)
    with engine.db.connect() as conn:
        responses = conn.execute(
            sa.select(audit_events.c.instance_id, audit_events.c.actor, audit_events.c.at, instances.c.started_at,
                      instances.c.business_key, instances.c.process_key)
            .join(instances, instances.c.id == audit_events.c.instance_id)
            .where(audit_events.c.action == "task_completed", audit_events.c.element_id.in_(RESPONSE_ELEMENTS),
                   audit_events.c.at >= since, audit_events.c.at < until).order_by(audit_events.c.id)).all()
        breaches = _events(conn, ["escalated"], since, until)
        teams, first = {}, {}
        for r in responses:
            first.setdefault(r.instance_id, r)
        by_agent = defaultdict(lambda: {"responses": 0, "hours": [], "breaches": 0})
        for r in first.values():
            row_team = _team_of_key(conn, r.business_key, teams)
            if team and row_team not in _teams(team):
                continue
            cell = by_agent[(row_team, r.actor)]
            cell["responses"] += 1
            cell["hours"].append(_hours(utc(r.at) - utc(r.started_at)))
        for e in breaches:
            detail = e.detail or {}
            if team and detail.get("team") not in _teams(team):
                continue
            by_agent[(detail.get("team"), detail.get("agent"))]["breaches"] += 1
    rows = [{"team": k[0], "agent": k[1], "responses": v["responses"], "breaches": v["breaches"],
             "avg_first_response_hours": round(mean(v["hours"]), 2) if v["hours"] else None}
            for k, v in sorted(by_agent.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))]
    return {"team": team, "since": since, "until": until, "rows": rows,
            "breaches": sum(r["breaches"] for r in rows), "responses": sum(r["responses"] for r in rows)}


def satisfaction(engine, team=None, since=None, until=None) -> dict:
    """Revisit completion (revisits that came due vs. answered) and the CSAT/NPS trend per week."""
    since, until = period(since, until)
    with engine.db.connect() as conn:
        surveys = [e for e in _events(conn, ["survey_recorded"], since, until)
                   if not team or (e.detail or {}).get("team") in _teams(team)]
        due = conn.execute(sa.select(audit_events.c.instance_id, instances.c.business_key)
                           .join(instances, instances.c.id == audit_events.c.instance_id)
                           .where(audit_events.c.action == "timer_fired", instances.c.process_key == "care_revisit",
                                  audit_events.c.at >= since, audit_events.c.at < until)).all()
        cache = {}
        due_count = sum(1 for d in due if not team or _team_of_key(conn, d.business_key, cache) in _teams(team))
    revisits = [e for e in surveys if isinstance((e.detail or {}).get("revisit"), int)]
    weeks = defaultdict(list)
    for e in surveys:
        weeks[(utc(e.at) - timedelta(days=utc(e.at).weekday())).date().isoformat()].append(e.detail)
    trend = [{"week": week, "answers": len(items), "avg_csat": round(mean(i["csat"] for i in items), 2),
              "nps": _nps([i["nps"] for i in items if i.get("nps") is not None])}
             for week, items in sorted(weeks.items())]
    return {"team": team, "since": since, "until": until, "revisits_due": due_count, "revisits_done": len(revisits),
            "completion": round(len(revisits) / due_count, 4) if due_count else None,
            "answers": len(surveys), "low_scores": sum(1 for e in surveys if e.detail.get("low")), "trend": trend}


def _nps(scores):
    """Net promoter score: % promoters (9-10) minus % detractors (0-6)."""
    if not scores:
        return None
    return round(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores), 1)


def renewals(engine, team=None, since=None, until=None) -> dict:
    """Contracts ending in the period and what became of their renewal SOP (renewed, lost, open)."""
    since, until = period(since, until)
    query = sa.select(contracts.c.id, contracts.c.title, contracts.c.end_date, contracts.c.owner, contracts.c.team) \
        .where(contracts.c.end_date >= since.date(), contracts.c.end_date < until.date())
    if team:
        query = query.where(contracts.c.team.in_(_teams(team)))
    with engine.db.connect() as conn:
        due = conn.execute(query.order_by(contracts.c.end_date)).all()
        outcomes = conn.execute(sa.select(audit_events.c.detail).where(audit_events.c.action == "sop_outcome")).all()
    result = {}
    for o in outcomes:
        detail = o.detail or {}
        if detail.get("kind") == "renewal" and detail.get("contract_id") is not None:
            result[int(detail["contract_id"])] = detail.get("result")
    items = [{"contract_id": c.id, "title": c.title, "end_date": c.end_date.isoformat(), "owner": c.owner,
              "outcome": result.get(c.id, "open")} for c in due]
    renewed = sum(1 for i in items if i["outcome"] == "renewed")
    return {"team": team, "since": since, "until": until, "due": len(items), "renewed": renewed,
            "renewal_rate": round(renewed / len(items), 4) if items else None, "items": items}


def checkin_report(engine, team=None, since=None, until=None) -> dict:
    """Check-ins per team: how many, how many far from the customer, alerts for missing check-ins."""
    since, until = period(since, until)
    from engine.sop.watch import is_negative
    query = (sa.select(customers.c.team, checkins.c["values"], checkins.c.far_from_customer)
             .join(customers, customers.c.id == checkins.c.customer_id)
             .where(checkins.c.at >= since, checkins.c.at < until))
    if team:
        query = query.where(customers.c.team.in_(_teams(team)))
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
        alerts = _events(conn, ["checkin_alert"], since, until)
    per = defaultdict(lambda: {"checkins": 0, "negative": 0, "far": 0, "alerts": 0})
    for r in rows:
        cell = per[r.team]
        cell["checkins"] += 1
        cell["negative"] += bool(is_negative(r[1]))
        cell["far"] += bool(r.far_from_customer)
    for a in alerts:
        if not team or (a.detail or {}).get("team") in _teams(team):
            per[(a.detail or {}).get("team")]["alerts"] += 1
    return {"team": team, "since": since, "until": until,
            "rows": [{"team": k, **v, "completion": round(v["checkins"] / (v["checkins"] + v["alerts"]), 4)
                      if v["checkins"] + v["alerts"] else None} for k, v in sorted(per.items(), key=lambda kv: str(kv[0]))]}


def leaderboard(engine, team=None, since=None, until=None) -> dict:
    """Per agent: visits (visit interactions and check-ins), tasks done, of which on time (no escalation
    named the agent in that instance), and ticket resolution rate; best first."""
    since, until = period(since, until)
    with engine.db.connect() as conn:
        visits = conn.execute(sa.select(interactions.c.actor, sa.func.count()).where(
            interactions.c.kind == "visit", interactions.c.at >= since, interactions.c.at < until)
            .group_by(interactions.c.actor)).all()
        visits += conn.execute(sa.select(checkins.c.user, sa.func.count()).where(
            checkins.c.at >= since, checkins.c.at < until).group_by(checkins.c.user)).all()
        done = conn.execute(sa.select(audit_events.c.actor, audit_events.c.instance_id).where(
            audit_events.c.action == "task_completed", audit_events.c.at >= since, audit_events.c.at < until)).all()
        late = {((e.detail or {}).get("agent"), e.instance_id) for e in _events(conn, ["escalated"], since, until)}
        owned = conn.execute(sa.select(tickets.c.owner, tickets.c.status).where(
            tickets.c.created_at >= since, tickets.c.created_at < until)).all()
        members = None
        if team:
            from engine.storage.schema import user_groups, users
            members = {r.name for r in conn.execute(sa.select(users.c.name).join(
                user_groups, user_groups.c.user_id == users.c.id).where(user_groups.c.group_name.in_(_teams(team))))}
    board = defaultdict(lambda: {"visits": 0, "tasks_done": 0, "on_time": 0, "tickets": 0, "resolved": 0})
    for actor, count in visits:
        if actor:
            board[actor]["visits"] += count
    for r in done:
        if r.actor and r.actor not in ("timer", "engine"):
            board[r.actor]["tasks_done"] += 1
            board[r.actor]["on_time"] += (r.actor, r.instance_id) not in late
    for t in owned:
        if t.owner:
            board[t.owner]["tickets"] += 1
            board[t.owner]["resolved"] += t.status in ("resolved", "closed")
    rows = [{"agent": name, **v, "resolution_rate": round(v["resolved"] / v["tickets"], 4) if v["tickets"] else None}
            for name, v in board.items() if members is None or name in members]
    rows.sort(key=lambda r: (-r["tasks_done"], -r["on_time"], -r["visits"], r["agent"]))
    return {"team": team, "since": since, "until": until, "rows": rows}


REPORTS = {"funnel": funnel, "sla": sla, "satisfaction": satisfaction, "renewals": renewals,
           "checkins": checkin_report, "leaderboard": leaderboard}
