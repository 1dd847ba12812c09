"""Assigning leads and customers to agents, and giving them back to the public pool.

Inside a team (its members with the role agent; team leads sit in the group for escalations) the
agent is chosen by round-robin or least-loaded (open items: human tasks held and open
leads owned), skipping inactive users, users on leave and users at their quota, with a random tie-break;
the reason is recorded. The team's pointer row is locked for the rest of the instance's transaction, so
two assignments into one team at the same moment queue instead of picking the same agent.
"""
import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from engine import clock
from engine.customers.common import log_change, utc
from engine.customers.ownership import set_owner
from engine.customers.schema import customers, interactions, leads
from engine.sop.registry import OperationError, audit, customer_of, lead_of, operation, zone_of
from engine.sop.schema import agent_availability, assignment_pointers
from engine.storage.backend import backend_for
from engine.storage.schema import audit_events, human_tasks, instances, user_groups, users

STRATEGIES = ("round_robin", "least_loaded")
OPEN_LEAD_STATUSES = ("new", "contacted", "qualified")


def _lock_pointer(conn, team, now):
    conn.execute(backend_for(conn).insert_ignore(assignment_pointers, team=team, turns=0, updated_at=now))
    return conn.execute(sa.select(assignment_pointers).where(assignment_pointers.c.team == team)
                        .with_for_update()).one()


def team_load(conn, team, today):
    """Every member of `team` with active flag, availability and open-item count."""
    members = conn.execute(
        sa.select(users.c.name, users.c.active, agent_availability.c.on_leave_from,
                  agent_availability.c.on_leave_until, agent_availability.c.max_open)
        .join(user_groups, user_groups.c.user_id == users.c.id)
        .outerjoin(agent_availability, agent_availability.c.user_name == users.c.name)
        .where(user_groups.c.group_name == team, users.c.role == "agent").order_by(users.c.name)).all()
    names = [m.name for m in members]
    tasks = dict(conn.execute(sa.select(human_tasks.c.assignee, sa.func.count()).where(
        human_tasks.c.assignee.in_(names)).group_by(human_tasks.c.assignee)).all()) if names else {}
    owned = dict(conn.execute(sa.select(leads.c.owner, sa.func.count()).where(
        leads.c.owner.in_(names), leads.c.status.in_(OPEN_LEAD_STATUSES)).group_by(leads.c.owner)).all()) \
        if names else {}
    return [{"name": m.name, "active": m.active, "leave": (m.on_leave_from, m.on_leave_until),
             "max_open": m.max_open, "open": tasks.get(m.name, 0) + owned.get(m.name, 0)} for m in members]


def _skip_reason(member, today: date):
    if not member["active"]:
        return "inactive"
    start, end = member["leave"]
    if (start or end) and (start is None or start <= today) and (end is None or today <= end):
        return f"on leave until {end.isoformat()}" if end else "on leave"
    if member["max_open"] is not None and member["open"] >= member["max_open"]:
        return f"at quota ({member['open']}/{member['max_open']} open items)"
    return None


def choose_agent(conn, team, strategy, now, zone, rng=random):
    """(agent or None, reason, skipped {name: why}, candidates [{name, open}]). Locks the team's pointer."""
    if strategy not in STRATEGIES:
        raise OperationError(f"unknown strategy '{strategy}' (use {' or '.join(STRATEGIES)})")
    pointer = _lock_pointer(conn, team, now)
    today = now.astimezone(zone).date()
    members = team_load(conn, team, today)
    if not members:
        return None, f"team '{team}' has no members", {}, []
    skipped = {m["name"]: why for m in members if (why := _skip_reason(m, today))}
    eligible = [m for m in members if m["name"] not in skipped]
    candidates = [{"name": m["name"], "open": m["open"]} for m in eligible]
    if not eligible:
        return None, f"nobody in team '{team}' can take it: " + "; ".join(f"{k} {v}" for k, v in skipped.items()), \
            skipped, candidates
    if strategy == "round_robin":
        after = [m for m in eligible if pointer.last_user is None or m["name"] > pointer.last_user]
        chosen = (after or eligible)[0]
        reason = f"round-robin in {team}: next after {pointer.last_user or 'nobody'}"
    else:
        fewest = min(m["open"] for m in eligible)
        tied = [m for m in eligible if m["open"] == fewest]
        chosen = rng.choice(tied)
        reason = f"least-loaded in {team}: {fewest} open item(s)" + (
            f", random pick among {len(tied)} tied" if len(tied) > 1 else "")
    if skipped:
        reason += "; skipped " + ", ".join(f"{k} ({v})" for k, v in skipped.items())
    conn.execute(assignment_pointers.update().where(assignment_pointers.c.team == team).values(
        last_user=chosen["name"], turns=assignment_pointers.c.turns + 1, updated_at=now))
    return chosen["name"], reason, skipped, candidates


@operation()
def assign_lead(ctx, team, strategy="round_robin", lead_id=None, customer_id=None):
    """Give the lead (or customer) to an agent of `team`. Answers {agent, team, strategy, reason}; agent
    is None when nobody can take it (the diagram routes that to a supervisor)."""
    if not team:
        raise OperationError("no team given (did the routing table match no rule?)")
    now = clock.now()
    conn = ctx.conn
    agent, reason, skipped, candidates = choose_agent(conn, team, strategy or "round_robin", now, zone_of(ctx))
    lead_id = lead_of(ctx, lead_id)
    target = {"lead_id": lead_id}
    if agent is not None:
        if lead_id is not None:
            row = conn.execute(sa.select(leads).where(leads.c.id == lead_id).with_for_update()).first()
            if row is None:
                raise OperationError(f"no lead with id {lead_id}")
            conn.execute(leads.update().where(leads.c.id == lead_id).values(owner=agent, team=team, updated_at=now))
            log_change(conn, "lead", lead_id, row.customer_id, "updated", ctx.actor or "engine",
                       {"owner": [row.owner, agent], "team": [row.team, team]}, now)
        else:
            cid = customer_of(ctx, customer_id)
            row = conn.execute(sa.select(customers.c.owner).where(customers.c.id == cid).with_for_update()).first()
            if row is None:
                raise OperationError(f"no customer with id {cid}")
            set_owner(conn, cid, row.owner, agent, ctx.actor or "engine", "assigned", now, note=reason, team=team)
            target = {"customer_id": cid}
    answer = {"agent": agent, "team": team, "strategy": strategy, "reason": reason}
    audit(ctx, "lead_assigned" if agent else "lead_unassigned",
          {**answer, **target, "skipped": skipped, "candidates": candidates})
    return answer


@operation()
def return_to_pool(ctx, lead_id=None, customer_id=None, reason="no follow-up"):
    """Take the lead (or customer) away from its owner: a lead loses its owner (the team's pool), a
    customer goes to the public pool (公海)."""
    now = clock.now()
    conn, actor = ctx.conn, ctx.actor or "engine"
    lead_id = lead_of(ctx, lead_id)
    if lead_id is not None and customer_id in (None, ""):
        row = conn.execute(sa.select(leads).where(leads.c.id == lead_id).with_for_update()).first()
        if row is None:
            raise OperationError(f"no lead with id {lead_id}")
        if row.owner is not None:
            conn.execute(leads.update().where(leads.c.id == lead_id).values(owner=None, updated_at=now))
            log_change(conn, "lead", lead_id, row.customer_id, "updated", actor, {"owner": [row.owner, None]}, now)
        audit(ctx, "returned_to_pool", {"lead_id": lead_id, "from": row.owner, "team": row.team, "reason": reason})
        return {"lead_id": lead_id, "from": row.owner}
    cid = customer_of(ctx, customer_id)
    row = conn.execute(sa.select(customers.c.owner, customers.c.team).where(customers.c.id == cid)
                       .with_for_update()).first()
    if row is None:
        raise OperationError(f"no customer with id {cid}")
    if row.owner is not None:
        set_owner(conn, cid, row.owner, None, actor, "recycled", now, note=reason)
    audit(ctx, "returned_to_pool", {"customer_id": cid, "from": row.owner, "team": row.team, "reason": reason})
    return {"customer_id": cid, "from": row.owner}


def last_follow_up(conn, lead_id):
    """When the lead was last followed up: the latest of a task completed in any process about it
    (business key 'lead:<id>'), a call, visit, meeting or message logged on it, and its creation."""
    tasks = conn.execute(sa.select(sa.func.max(audit_events.c.at)).where(
        audit_events.c.action == "task_completed",
        audit_events.c.instance_id.in_(sa.select(instances.c.id).where(instances.c.business_key == f"lead:{lead_id}"))
    )).scalar()
    logged = conn.execute(sa.select(sa.func.max(interactions.c.at)).where(interactions.c.lead_id == lead_id)).scalar()
    created = conn.execute(sa.select(leads.c.created_at).where(leads.c.id == lead_id)).scalar()
    return max(utc(v) for v in (tasks, logged, created) if v is not None)


@operation()
def lead_follow_up(ctx, lead_id=None, days=30):
    """Is the lead still followed up? Answers {last_follow_up, follow_up_due (last + days), stale (due now
    or past)}: the lead assignment SOP waits until `follow_up_due` and asks again, so every follow-up
    (see last_follow_up) moves its 30-day clock."""
    lead_id = lead_of(ctx, lead_id)
    if lead_id is None:
        raise OperationError("no lead given: pass lead_id or use a business key like 'lead:12'")
    if ctx.conn.execute(sa.select(leads.c.id).where(leads.c.id == lead_id)).first() is None:
        raise OperationError(f"no lead with id {lead_id}")
    last = last_follow_up(ctx.conn, lead_id)
    due = last + timedelta(days=int(days))
    return {"lead_id": lead_id, "last_follow_up": last.isoformat(), "follow_up_due": due.isoformat(),
            "stale": due <= clock.now()}


def set_availability(engine, user, on_leave_from=None, on_leave_until=None, max_open=None):
    """An admin's record of leave and quota for one agent (None clears)."""
    now = clock.now()
    values = {"on_leave_from": _day(on_leave_from), "on_leave_until": _day(on_leave_until),
              "max_open": max_open, "updated_at": now}
    with engine.db.begin() as conn:
        done = conn.execute(agent_availability.update().where(agent_availability.c.user_name == user).values(**values))
        if done.rowcount == 0:
            conn.execute(agent_availability.insert().values(user_name=user, **values))


def _day(value):
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value)[:10])
