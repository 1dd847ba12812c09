"""Operations that reach people and other processes: notify, start_process, create_task_for, escalate."""

import sqlalchemy as sa

from engine import context
from engine.customers.schema import customers
from engine.errors import NotFound
from engine.sop.registry import OperationError, audit, customer_of, operation
from engine.storage.schema import definitions, user_groups, users

TASK_PROCESS = "followup_task"  # bpmn/followup_task.bpmn: one task for one person
LEVELS = ("agent", "supervisor", "manager")
LEVEL_GROUPS = {1: "supervisors", 2: "managers"}
LEVEL_NAMES = {"agent": "坐席", "supervisor": "主管", "manager": "经理"}


@operation()
def notify(ctx, channel, text, mentions=None):
    """A robot message (WeCom/DingTalk/webhook channel), sent only if this change commits."""
    context.notify(str(channel), str(text), mentions)
    audit(ctx, "notified", {"channel": channel, "text": text})
    return {"channel": channel}


def _require_definition(ctx, process_key):
    if ctx.conn.execute(sa.select(definitions.c.id).where(definitions.c.key == process_key).limit(1)).first() is None:
        raise OperationError(f"no process definition with key '{process_key}' is deployed")


def start_in_change(ctx, process_key, business_key=None, variables=None) -> str:
    """Start an instance inside this change's transaction: both commit, or neither. Returns its id."""
    _require_definition(ctx, process_key)
    definition = ctx.store.definitions.get(ctx.conn, process_key)
    instance_id = ctx.store.start(definition, business_key, dict(variables or {}),
                                  actor=f"process:{ctx.process_key}", conn=ctx.conn)
    audit(ctx, "process_started", {"process_key": process_key, "instance_id": instance_id,
                                   "business_key": business_key})
    return instance_id


@operation()
def start_process(ctx, process_key, business_key=None, variables=None):
    """Start another SOP (e.g. a complaint from a low survey score) in this change's transaction; its
    business key defaults to this instance's (pass '' for none)."""
    if variables is not None and not isinstance(variables, dict):
        raise OperationError("variables must be a dict")
    business_key = ctx.business_key if business_key is None else str(business_key) or None
    return {"instance_id": start_in_change(ctx, process_key, business_key, variables)}


@operation()
def create_task_for(ctx, title, user=None, customer_id=None, note="", due="P1D", kind="follow_up", group="sales"):
    """A task for `user` (default: the customer's owner; nobody: the `group` pool), as an instance of
    the `followup_task` SOP. `due`: an ISO duration after which the task escalates to supervisors."""
    cid = customer_of(ctx, customer_id) if customer_id is not None or ctx.business_key else None
    if user is None and cid is not None:
        user = ctx.conn.execute(sa.select(customers.c.owner).where(customers.c.id == cid)).scalar()
    variables = {"title": str(title), "note": str(note or ""), "assignee": user, "kind": kind, "due": due,
                 "candidate_group": group, "customer_id": cid}
    instance_id = start_in_change(ctx, TASK_PROCESS, str(cid) if cid is not None else None, variables)
    audit(ctx, "task_created", {"kind": kind, "user": user, "customer_id": cid, "instance_id": instance_id,
                                "title": title})
    return {"instance_id": instance_id, "user": user}


def _member_of(conn, group, team=None):
    """An active member of `group`, preferring one who is also in `team`; None if there is none."""
    query = (sa.select(users.c.name).join(user_groups, user_groups.c.user_id == users.c.id)
             .where(user_groups.c.group_name == group, users.c.active == sa.true()).order_by(users.c.name))
    names = [r.name for r in conn.execute(query)]
    if team and names:
        in_team = {r.name for r in conn.execute(sa.select(users.c.name).join(
            user_groups, user_groups.c.user_id == users.c.id).where(user_groups.c.group_name == team))}
        preferred = [n for n in names if n in in_team]
        if preferred:
            return preferred[0]
    return names[0] if names else None


@operation()
def completed_by(ctx, fallback=None):
    """Who completed the task just before this step (the user of this change), else `fallback`: the
    complaint's next stage goes to whoever took the last one over (a supervisor after an escalation)."""
    actor = ctx.actor if ctx.actor and not str(ctx.actor).startswith(("process:", "timer")) else None
    return {"user": actor or fallback}


@operation()
def escalate(ctx, stage, level=0, team=None, agent=None, channel=None, subject=""):
    """A missed deadline: one level up (agent -> supervisor -> manager; a manager stays manager and is
    reminded again). Answers {level, role, handler, group}; notifies the new level's channel."""
    try:
        current = int(level or 0)
    except (TypeError, ValueError):
        raise OperationError(f"level must be 0, 1 or 2, not {level!r}") from None
    new = min(current + 1, len(LEVELS) - 1)
    role, group = LEVELS[new], LEVEL_GROUPS[new]
    handler = _member_of(ctx.conn, group, team)
    channel = channel or group
    text = (f"【升级提醒】{subject or ctx.process_key}：「{stage}」环节超时未完成"
            f"（责任人 {agent or '未分配'}），已升级至{LEVEL_NAMES[role]} {handler or group}。")
    context.notify(str(channel), text)
    detail = {"stage": stage, "from_level": current, "level": new, "role": role, "handler": handler,
              "team": team, "agent": agent}
    audit(ctx, "escalated", detail)
    return {"level": new, "role": role, "handler": handler, "group": group}


def task_definition_missing(engine):
    """True when the followup_task SOP (used by create_task_for) is not deployed."""
    try:
        engine.definition(TASK_PROCESS)
        return False
    except NotFound:
        return True
