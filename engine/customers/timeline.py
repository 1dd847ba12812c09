"""A customer's 360° timeline: process events, open tasks, check-ins, ownership changes, record changes
(contracts, payments, opportunities, ...) and calls/visits, newest first.

Each source is read newest first up to the end of the requested page, then the lists are merged;
so a page costs a few indexed queries whatever the customer's history."""
import heapq

import sqlalchemy as sa

from engine.errors import NotFound
from engine.storage.schema import audit_events, human_tasks, instances

from engine.customers.common import json_value, utc
from engine.customers.schema import checkins, customers, interactions, ownership_changes, record_changes


def _business_keys(customer_id):
    return [str(customer_id), f"customer:{customer_id}"]


def _sources(customer_id):
    keys = _business_keys(customer_id)
    process = (sa.select(audit_events.c.id, audit_events.c.at, audit_events.c.actor, audit_events.c.action,
                         audit_events.c.instance_id, audit_events.c.task_id, audit_events.c.element_id,
                         audit_events.c.detail, instances.c.process_key)
               .join(instances, instances.c.id == audit_events.c.instance_id)
               .where(instances.c.business_key.in_(keys)))
    tasks = sa.select(human_tasks).where(human_tasks.c.business_key.in_(keys))
    return [
        ("process", process, audit_events.c.at, audit_events.c.id, lambda r: {
            "actor": r.actor, "action": r.action, "instance_id": r.instance_id, "process_key": r.process_key,
            "task_id": r.task_id, "element_id": r.element_id, "detail": r.detail}),
        ("task", tasks, human_tasks.c.created_at, human_tasks.c.id, lambda r: {
            "actor": None, "action": "task_open", "task_id": r.id, "name": r.name, "instance_id": r.instance_id,
            "assignee": r.assignee, "due_at": json_value(utc(r.due_at))}),
        ("checkin", sa.select(checkins).where(checkins.c.customer_id == customer_id), checkins.c.at, checkins.c.id,
         lambda r: {"actor": r.user, "action": "checkin", "checkin_id": r.id, "scenario": r.scenario,
                    "far_from_customer": r.far_from_customer, "distance_m": r.distance_m}),
        ("ownership", sa.select(ownership_changes).where(ownership_changes.c.customer_id == customer_id),
         ownership_changes.c.at, ownership_changes.c.id,
         lambda r: {"actor": r.actor, "action": r.reason, "from": r.from_owner, "to": r.to_owner, "note": r.note}),
        ("change", sa.select(record_changes).where(record_changes.c.customer_id == customer_id),
         record_changes.c.at, record_changes.c.id,
         lambda r: {"actor": r.actor, "action": f"{r.entity}_{r.action}", "entity": r.entity,
                    "entity_id": r.entity_id, "changes": r.changes}),
        ("interaction", sa.select(interactions).where(interactions.c.customer_id == customer_id,
                                                      interactions.c.kind != "task"),  # tasks show as process events
         interactions.c.at, interactions.c.id,
         lambda r: {"actor": r.actor, "action": r.kind, "note": r.note}),
    ]


def timeline(engine, customer_id, page=1, page_size=50):
    """(items, total): each item {"type", "at", "actor", "action", ...}, newest first."""
    page, page_size = max(1, int(page)), max(1, min(int(page_size), 500))
    wanted = page * page_size
    with engine.db.connect() as conn:
        if conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
            raise NotFound(f"no customer with id {customer_id}")
        lists, total = [], 0
        for rank, (kind, query, at, ident, shape) in enumerate(_sources(customer_id)):
            total += conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(at.desc(), ident.desc()).limit(wanted)).all()
            lists.append([((utc(getattr(r, at.name)), -rank, str(r.id).rjust(40)), {"type": kind, "at": utc(getattr(r, at.name)),
                                                                       **shape(r)}) for r in rows])
    merged = heapq.merge(*lists, key=lambda item: item[0], reverse=True)
    items = [item for _, item in merged][(page - 1) * page_size: wanted]
    return items, total
