"""Ownership changes: each one updates the customer, lands in `ownership_changes` with its reason
(assigned, claimed, recycled, moved, released) and in the engine's `audit_events`."""
import sqlalchemy as sa

from engine import clock
from engine.errors import InvalidInput, NotFound
from engine.storage.schema import audit_events

from engine.customers.common import user_info
from engine.customers.schema import customers, ownership_changes

REASONS = ("assigned", "claimed", "recycled", "moved", "released")


def ownership_rows(customer_id, from_owner, to_owner, actor, reason, now, note=None):
    change = dict(customer_id=customer_id, at=now, actor=actor, from_owner=from_owner, to_owner=to_owner,
                  reason=reason, note=note)
    audit = dict(instance_id=None, at=now, actor=actor, action="customer_owner_changed",
                 detail={"customer_id": customer_id, "from": from_owner, "to": to_owner, "reason": reason,
                         **({"note": note} if note else {})})
    return change, audit


def set_owner(conn, customer_id, from_owner, to_owner, actor, reason, now, note=None, team=None):
    """Record and apply one ownership change (the caller holds the row, or knows it is new)."""
    assert reason in REASONS, reason
    values = dict(owner=to_owner, owner_since=now if to_owner else None, pool_warned_at=None,
                  in_pool=to_owner is None and reason == "recycled", updated_at=now)
    if team:
        values["team"] = team
    conn.execute(customers.update().where(customers.c.id == customer_id).values(**values))
    change, audit = ownership_rows(customer_id, from_owner, to_owner, actor, reason, now, note)
    conn.execute(ownership_changes.insert().values(**change))
    conn.execute(audit_events.insert().values(**audit))


def transfer(engine, customer_id, to_owner, actor, note=None, reason="moved"):
    """A supervisor moves a customer to another user (or, with `to_owner=None`, releases it to the pool)."""
    now = clock.now()
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(customers).where(customers.c.id == customer_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        team = None
        if to_owner is not None:
            info = user_info(conn, [to_owner]).get(to_owner)
            if info is None or not info["active"]:
                raise InvalidInput(f"'{to_owner}' is not an active user", {"owner": ["not an active user"]})
            team = info["groups"][0] if len(info["groups"]) == 1 and not row.team else None
        if to_owner is None:
            set_owner(conn, customer_id, row.owner, None, actor, "released", now, note)
            conn.execute(customers.update().where(customers.c.id == customer_id).values(in_pool=True))
        else:
            set_owner(conn, customer_id, row.owner, to_owner, actor, reason, now, note, team=team)


def ownership_history(engine, customer_id):
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(ownership_changes).where(ownership_changes.c.customer_id == customer_id)
                            .order_by(ownership_changes.c.id))
        return [dict(r._mapping) for r in rows]
