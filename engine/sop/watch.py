"""Daily sweeps (field service watch, churn watch) and the customer health score.

The health score (0-100, higher is healthier) starts at 100 and loses points for: no interaction for
14/30 days (-15/-30), negative check-in feedback in 90 days (-10 each, at most -30), open complaints
(-15 each, at most -30) and overdue tasks (-5 each, at most -20). It is recomputed by the operations
that change one of those (tickets, surveys, sweeps) and can be read with `health()`.
"""
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.customers.common import utc
from engine.customers.schema import checkins, customers, interactions, tickets
from engine.customers.vocab import Vocabularies
from engine.sop.registry import audit, operation
from engine.sop.flow import TASK_PROCESS, start_in_change
from engine.sop.schema import customer_health
from engine.storage.schema import audit_events, human_tasks

NEGATIVE = {"negative", "不满意", "差评", "差", "bad"}


def is_negative(values: dict) -> bool:
    """A check-in whose feedback is negative: a `feedback` answer like 不满意, or `satisfaction` <= 2."""
    values = values or {}
    feedback = values.get("feedback")
    satisfaction = values.get("satisfaction")
    return (isinstance(feedback, str) and feedback.strip().lower() in NEGATIVE) or (
        isinstance(satisfaction, (int, float)) and not isinstance(satisfaction, bool) and satisfaction <= 2)


def compute_health(conn, customer_id, now):
    row = conn.execute(sa.select(customers.c.last_interaction_at, customers.c.created_at)
                       .where(customers.c.id == customer_id)).first()
    if row is None:
        return None
    factors = {}
    last = utc(row.last_interaction_at) or utc(row.created_at)
    idle = (now - last).days
    factors["idle_days"] = idle
    score = 100 - (30 if idle >= 30 else 15 if idle >= 14 else 0)
    recent = conn.execute(sa.select(sa.func.count()).where(interactions.c.customer_id == customer_id,
                                                           interactions.c.at >= now - timedelta(days=30))).scalar_one()
    factors["interactions_30d"] = recent
    negative = sum(1 for r in conn.execute(sa.select(checkins.c["values"]).where(
        checkins.c.customer_id == customer_id, checkins.c.at >= now - timedelta(days=90))) if is_negative(r.values))
    factors["negative_checkins_90d"] = negative
    complaints = conn.execute(sa.select(sa.func.count()).where(
        tickets.c.customer_id == customer_id, tickets.c.kind == "complaint",
        tickets.c.status.in_(("open", "in_progress")))).scalar_one()
    factors["open_complaints"] = complaints
    overdue = conn.execute(sa.select(sa.func.count()).where(
        human_tasks.c.business_key.in_([str(customer_id), f"customer:{customer_id}"]),
        human_tasks.c.due_at < now)).scalar_one()
    factors["overdue_tasks"] = overdue
    score -= min(30, 10 * negative) + min(30, 15 * complaints) + min(20, 5 * overdue)
    return max(0, min(100, score)), factors


def refresh_health(conn, customer_id, now=None, penalty=0, reason=None):
    """Recompute and store the score; `penalty` lowers it further (the churn watch's alert)."""
    now = now or clock.now()
    computed = compute_health(conn, customer_id, now)
    if computed is None:
        return None
    score, factors = computed
    if penalty:
        score = max(0, score - penalty)
        factors["penalty"] = {"points": penalty, "reason": reason}
    values = {"score": score, "factors": factors, "computed_at": now}
    if conn.execute(customer_health.update().where(customer_health.c.customer_id == customer_id)
                    .values(**values)).rowcount == 0:
        conn.execute(customer_health.insert().values(customer_id=customer_id, **values))
    return score


def health(engine, customer_id) -> dict | None:
    """{score, factors, computed_at} of a customer, or None if never computed."""
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(customer_health).where(customer_health.c.customer_id == customer_id)).first()
    return None if row is None else {"score": row.score, "factors": row.factors, "computed_at": utc(row.computed_at)}


def _alerted_recently(conn, action, customer_id, since):
    rows = conn.execute(sa.select(audit_events.c.detail).where(audit_events.c.action == action,
                                                              audit_events.c.at >= since))
    return any((r.detail or {}).get("customer_id") == customer_id for r in rows)


def _alert(ctx, action, customer, title, note, kind, since):
    if _alerted_recently(ctx.conn, action, customer.id, since):
        return False
    variables = {"title": title, "note": note, "assignee": customer.owner, "kind": kind, "due": "P1D",
                 "candidate_group": customer.team or "sales", "customer_id": customer.id}
    instance_id = start_in_change(ctx, TASK_PROCESS, str(customer.id), variables)
    audit(ctx, action, {"customer_id": customer.id, "owner": customer.owner, "team": customer.team,
                        "instance_id": instance_id})
    return True


@operation()
def checkin_watch(ctx, days=3, negative_share=0.05, window_days=1, channel="supervisors"):
    """Field service watch: customers with an open service ticket and no check-in for `days` days (counted
    from the oldest open service ticket when there is none) get an
    alert task for their owner (once per `days`); teams whose share of negative check-in feedback in the
    last `window_days` passes `negative_share` are flagged to `channel`."""
    from engine import context

    conn, now = ctx.conn, clock.now()
    under_service = (sa.select(tickets.c.customer_id, sa.func.min(tickets.c.created_at).label("since"))
                     .where(tickets.c.kind == "service", tickets.c.status.in_(("open", "in_progress")))
                     .group_by(tickets.c.customer_id).subquery())
    last_checkin = (sa.select(checkins.c.customer_id, sa.func.max(checkins.c.at).label("at"))
                    .group_by(checkins.c.customer_id).subquery())
    rows = conn.execute(sa.select(customers.c.id, customers.c.owner, customers.c.team, customers.c.name,
                                  last_checkin.c.at, under_service.c.since)
                        .join(under_service, under_service.c.customer_id == customers.c.id)
                        .outerjoin(last_checkin, last_checkin.c.customer_id == customers.c.id)
                        .order_by(customers.c.id)).all()
    limit = now - timedelta(days=float(days))
    alerted = []
    for row in rows:
        latest = max(utc(v) for v in (row.at, row.since) if v is not None)  # service start counts as day 0
        if latest < limit:
            since = "服务开始后从未打卡" if row.at is None else f"上次打卡 {utc(row.at):%Y-%m-%d}"
            if _alert(ctx, "checkin_alert", row, f"服务中客户 {row.name} 已 {days} 天未打卡", since, "checkin_alert",
                      limit):
                alerted.append(row.id)
    window = conn.execute(sa.select(checkins.c["values"], customers.c.team).join(
        customers, customers.c.id == checkins.c.customer_id).where(
        checkins.c.at >= now - timedelta(days=float(window_days)))).all()
    per_team = {}
    for r in window:
        total, bad = per_team.get(r.team, (0, 0))
        per_team[r.team] = (total + 1, bad + is_negative(r.values))
    flagged = {}
    for team, (total, bad) in sorted(per_team.items(), key=lambda kv: str(kv[0])):
        if total and bad / total > float(negative_share):
            flagged[team] = round(bad / total, 4)
            context.notify(channel, f"【打卡预警】团队 {team or '未分组'} 近 {window_days} 天负面反馈占比 "
                                   f"{bad / total:.1%}（{bad}/{total}），超过 {float(negative_share):.0%}。")
            audit(ctx, "team_flagged", {"team": team, "share": round(bad / total, 4), "negative": bad, "total": total})
    return {"alerted": alerted, "flagged_teams": flagged}


@operation()
def churn_watch(ctx, days=30, penalty=20):
    """Churn watch: owned customers with no qualifying interaction for `days` days (or their level's
    `churn_days`) get a care task for the owner and lose `penalty` health points (once per period)."""
    conn, now = ctx.conn, clock.now()
    vocab = Vocabularies(conn)
    rows = conn.execute(sa.select(customers.c.id, customers.c.owner, customers.c.team, customers.c.name,
                                  customers.c.level, customers.c.last_interaction_at, customers.c.created_at)
                        .where(customers.c.owner.is_not(None), customers.c.status != "churned")
                        .order_by(customers.c.id)).all()
    alerted = []
    for row in rows:
        limit_days = float(vocab.level_attr(row.level, "churn_days", days))
        last = utc(row.last_interaction_at) or utc(row.created_at)
        if now - last < timedelta(days=limit_days):
            continue
        if _alert(ctx, "churn_alert", row, f"客户关怀：{row.name} 已 {int(limit_days)} 天无有效互动",
                  f"上次互动 {last:%Y-%m-%d}", "churn_care", now - timedelta(days=limit_days)):
            refresh_health(conn, row.id, now, penalty=int(penalty), reason=f"no interaction for {int(limit_days)} days")
            alerted.append(row.id)
    return {"alerted": alerted}


@operation()
def recompute_health(ctx, customer_id=None):
    from engine.sop.registry import customer_of
    cid = customer_of(ctx, customer_id)
    return {"customer_id": cid, "score": refresh_health(ctx.conn, cid)}


@operation()
def recycle_pool(ctx, warn_due="P2D", group="sales"):
    """Daily: customers without follow-up for their level's days go back to the public pool (公海); the
    owners of those close to it get a follow-up task (due `warn_due`, then it escalates)."""
    from engine.customers.pool import recycle_in

    def warn(row, due):
        start_in_change(ctx, TASK_PROCESS, str(row.id), {
            "title": f"客户将于 {due:%Y-%m-%d} 回收到公海，请及时跟进 (returns to the public pool)",
            "note": "", "assignee": row.owner, "kind": "pool_warning", "due": warn_due,
            "candidate_group": group, "customer_id": row.id})

    result = recycle_in(ctx.conn, clock.now(), warn)
    audit(ctx, "pool_recycled", result)
    return {"recycled": len(result["recycled"]), "warned": len(result["warned"])}
