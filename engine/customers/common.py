"""Small shared helpers: time stamps, JSON-safe values, the change log and user look-ups."""
import json
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from engine.clock import utc  # noqa: F401 - re-exported for the customer hub's modules
from engine.storage.schema import user_groups, users

from engine.customers.schema import record_changes


def json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return utc(value).isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def row_dict(row) -> dict:
    return {k: utc(v) for k, v in row._mapping.items()}


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields of `after` whose value differs from `before`."""
    return {k: [json_value(before.get(k)), json_value(v)] for k, v in after.items()
            if json_value(before.get(k)) != json_value(v)}


def log_change(conn, entity, entity_id, customer_id, action, actor, changes, at, batch_id=None):
    conn.execute(record_changes.insert().values(
        entity=entity, entity_id=entity_id, customer_id=customer_id, action=action, at=at, actor=actor,
        changes=json.loads(json.dumps(changes, ensure_ascii=False, default=str)), batch_id=batch_id))


def user_info(conn, names) -> dict:
    """{name: {"active", "role", "groups"}} for the users among `names` that exist."""
    names = [n for n in set(names) if n]
    if not names:
        return {}
    found = {r.name: {"id": r.id, "active": r.active, "role": r.role, "groups": []}
             for r in conn.execute(sa.select(users.c.id, users.c.name, users.c.active, users.c.role)
                                   .where(users.c.name.in_(names)))}
    if found:
        by_id = {v["id"]: v for v in found.values()}
        for r in conn.execute(sa.select(user_groups).where(user_groups.c.user_id.in_(list(by_id)))):
            by_id[r.user_id]["groups"].append(r.group_name)
    return found


def history(engine, entity, entity_id, page=1, page_size=50):
    """Every recorded change of one record, oldest first: (items, total)."""
    base = sa.select(record_changes).where(record_changes.c.entity == entity, record_changes.c.entity_id == entity_id)
    with engine.db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(record_changes.c.id).offset((page - 1) * page_size).limit(page_size))
        return [row_dict(r) for r in rows], total


def fresh_customer_ids(conn, count):
    """Ids for `count` new customers that no customer ever had (its history, processes and timeline are
    named by it), on a backend that would hand a deleted one out again; None where the database's own
    sequence never does (PostgreSQL). SQLite writes hold the database's lock from BEGIN IMMEDIATE on."""
    from engine.customers.schema import customers
    from engine.storage.backend import backend_for

    if not backend_for(conn).reuses_deleted_ids or count <= 0:
        return None
    highest = max(conn.execute(sa.select(sa.func.max(customers.c.id))).scalar() or 0,
                  conn.execute(sa.select(sa.func.max(record_changes.c.entity_id))
                               .where(record_changes.c.entity == "customer")).scalar() or 0)
    return list(range(highest + 1, highest + 1 + count))
