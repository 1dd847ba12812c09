"""Real interactions with a customer: the only things that move `last_interaction_at` (which drives
the SOPs' "no follow-up for N days" rules and the public pool's recycling)."""
import sqlalchemy as sa

from engine import clock
from engine.errors import InvalidInput, NotFound


from engine.customers.schema import customers, interactions, leads

KINDS = ("call", "visit", "meeting", "message", "task", "checkin")


def touch(conn, customer_id, at):
    """Move `last_interaction_at` forward (never back: a late-recorded call does not hide a newer one)."""
    conn.execute(customers.update().where(customers.c.id == customer_id, sa.or_(
        customers.c.last_interaction_at.is_(None), customers.c.last_interaction_at < at))
        .values(last_interaction_at=at, pool_warned_at=None))


def after_interaction(engine, conn, customer_id):
    """The hooks the Engine hands down (`engine.on_interaction`: the health score), in the transaction
    of a call, visit or check-in."""
    for hook in getattr(engine, "on_interaction", ()):
        hook(conn, customer_id)


def _check(kind, at):
    if kind not in KINDS or kind == "checkin":
        raise InvalidInput(f"'{kind}' is not an interaction", {"kind": [f"one of {', '.join(KINDS[:-1])}"]})
    now = clock.now()
    at = at or now
    if at > now:
        raise InvalidInput("an interaction cannot happen in the future", {"at": ["after the current time"]})
    return at


def record_interaction(engine, customer_id, kind, actor=None, note=None, at=None, task_id=None):
    """Log a call, visit, meeting, message or completed task and mark the customer as followed up.
    `at` (when it happened) may not lie in the future."""
    at = _check(kind, at)
    with engine.db.begin() as conn:
        if conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
            raise NotFound(f"no customer with id {customer_id}")
        new_id = conn.execute(interactions.insert().values(customer_id=customer_id, kind=kind, at=at, actor=actor,
                                                           note=note, task_id=task_id)
                              .returning(interactions.c.id)).scalar_one()
        touch(conn, customer_id, at)
        after_interaction(engine, conn, customer_id)
    return new_id


def record_lead_interaction(engine, lead_id, kind, actor=None, note=None, at=None):
    """Log a call, visit, meeting or message on a lead: a follow-up that keeps a private lead with its
    owner (the lead assignment SOP's 30-day rule). A lead already converted logs it on its customer."""
    at = _check(kind, at)
    with engine.db.begin() as conn:
        lead = conn.execute(sa.select(leads.c.id, leads.c.customer_id).where(leads.c.id == lead_id)).first()
        if lead is None:
            raise NotFound(f"no lead with id {lead_id}")
        new_id = conn.execute(interactions.insert().values(lead_id=lead_id, customer_id=lead.customer_id, kind=kind,
                                                           at=at, actor=actor, note=note)
                              .returning(interactions.c.id)).scalar_one()
        if lead.customer_id is not None:
            touch(conn, lead.customer_id, at)
    return new_id


def customer_id_of(business_key):
    """The customer a process instance is about: its business key is the customer id ('42' or 'customer:42')."""
    if business_key is None:
        return None
    text = str(business_key).strip().removeprefix("customer:")
    return int(text) if text.isdigit() else None


def business_keys_of(kind, record_id) -> list[str]:
    """The business keys that name a customer ('42', 'customer:42') or a lead ('lead:7'): what an
    instance about it is started with (see `customer_id_of` and records.with_subjects)."""
    if kind == "customer":
        return [str(record_id), f"customer:{record_id}"]
    if kind == "lead":
        return [f"lead:{record_id}"]
    return []


def record_task_completion(conn, business_key, task_id, task_name, actor, at):
    """In the completing transaction: a task done for a customer (business key = its id) is a follow-up.
    Returns the customer id, or None when the instance is not about a known customer."""
    customer_id = customer_id_of(business_key)
    if customer_id is None:
        return None
    if conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
        return None
    conn.execute(interactions.insert().values(customer_id=customer_id, kind="task", at=at, actor=actor,
                                              note=task_name, task_id=task_id))
    touch(conn, customer_id, at)
    return customer_id


def follow_task_assignment(conn, business_key, user, previous, actor, at):
    """In a supervisor's reassignment: the lead of a `lead:<id>` process follows its task to the new
    holder when its owner was the previous holder (or nobody), so the new holder can read and work it.
    A supervisor's own escalation task moving changes nothing."""
    from engine.customers.common import log_change

    if not (business_key or "").startswith("lead:") or not business_key[5:].isdigit():
        return
    lead_id = int(business_key[5:])
    row = conn.execute(sa.select(leads.c.owner, leads.c.customer_id).where(leads.c.id == lead_id)).first()
    if row is None or row.owner == user or row.owner not in (None, previous):
        return
    conn.execute(leads.update().where(leads.c.id == lead_id).values(owner=user, updated_at=at))
    log_change(conn, "lead", lead_id, row.customer_id, "updated", actor, {"owner": [row.owner, user]}, at)
