"""Operations on the customer hub's records, in the instance's transaction: opportunities, tickets,
leads, customers, and the outcomes and survey answers the reports read (audit events)."""
import sqlalchemy as sa

from engine import clock
from engine.customers import fields
from engine.customers import records as hub_records
from engine.customers.common import diff, log_change, row_dict
from engine.customers.normalize import normalize_credit_code
from engine.customers.customers import EDITABLE
from engine.customers.customers import spec as customer_spec
from engine.customers.schema import customers, leads, opportunities
from engine.customers.vocab import Vocabularies
from engine.sop.registry import OperationError, audit, customer_of, lead_of, operation
from engine.storage.schema import audit_events


def create(ctx, kind, data) -> dict:
    """The hub's record creation, on the instance's connection (owner/team default to the customer's)."""
    return hub_records.create_in(ctx.conn, ctx.store, kind, data, ctx.actor or "engine", clock.now())


def update(ctx, kind, record_id, data) -> dict:
    return hub_records.update_in(ctx.conn, ctx.store, kind, record_id, data, ctx.actor or "engine", clock.now())


@operation()
def create_opportunity(ctx, name, customer_id=None, amount=None, stage="initial_contact", expected_close=None,
                       owner=None):
    record = create(ctx, "opportunity", {"customer_id": customer_of(ctx, customer_id), "name": name,
                                         "amount": amount, "stage": stage, "expected_close": expected_close,
                                         "owner": owner})
    audit(ctx, "opportunity_created", {"opportunity_id": record["id"], "name": name})
    return {"opportunity_id": record["id"], "owner": record["owner"]}


@operation()
def close_opportunity(ctx, opportunity_id=None, stage="won", lost_reason=None):
    """Close an open opportunity as `won` or `lost` (e.g. the renewal opportunity when the contract is
    renewed); without `opportunity_id`, the ones this instance opened (a boundary event that interrupts a
    subprocess drops the subprocess's variables, so the id may be unknown here); nothing when there is
    none or it is already closed."""
    if opportunity_id is None:
        opened = [detail["opportunity_id"] for (detail,) in ctx.conn.execute(
            sa.select(audit_events.c.detail).where(audit_events.c.instance_id == ctx.instance_id,
                                                   audit_events.c.action == "opportunity_created"))]
        if not opened:
            return {"opportunity_id": None, "stage": None}
        return [_close_one(ctx, o, stage, lost_reason) for o in opened][-1]
    return _close_one(ctx, opportunity_id, stage, lost_reason)


def _close_one(ctx, opportunity_id, stage, lost_reason):
    row = ctx.conn.execute(sa.select(opportunities.c.stage).where(opportunities.c.id == int(opportunity_id))).first()
    if row is None:
        raise OperationError(f"no opportunity with id {opportunity_id}")
    if row.stage in ("won", "lost"):
        return {"opportunity_id": int(opportunity_id), "stage": row.stage}
    changes = {"stage": stage, **({"lost_reason": lost_reason} if lost_reason else {})}
    record = update(ctx, "opportunity", int(opportunity_id), changes)
    return {"opportunity_id": record["id"], "stage": record["stage"]}


@operation()
def update_lead(ctx, lead_id=None, **changes):
    lead_id = lead_of(ctx, lead_id)
    if lead_id is None:
        raise OperationError("no lead given: pass lead_id or use a business key like 'lead:12'")
    record = update(ctx, "lead", lead_id, changes)
    return {"lead_id": lead_id, "status": record["status"], "owner": record["owner"]}


@operation()
def convert_lead(ctx, lead_id=None, credit_code=None, amount=None, opportunity_name=None, expected_close=None):
    """A qualified lead becomes a customer with an opportunity at stage initial_contact, owned by the
    lead's owner and team (records.convert_lead_in): an existing customer matching the credit code, the
    company name or a phone is linked instead of duplicated. The lead is marked converted and linked to
    both. A credit code that fails its check digit is left out (named in `ignored`), not fatal. A lead
    already converted (by hand) keeps its customer and gets the opportunity if it has none.
    Answers {customer_id, opportunity_id, linked, matched_by, ignored}."""
    conn, now, actor = ctx.conn, clock.now(), ctx.actor or "engine"
    lead_id = lead_of(ctx, lead_id)
    if lead_id is None:
        raise OperationError("no lead given: pass lead_id or use a business key like 'lead:12'")
    row = conn.execute(sa.select(leads).where(leads.c.id == lead_id)).first()
    if row is None:
        raise OperationError(f"no lead with id {lead_id}")
    ignored, data = {}, {}
    try:
        code = normalize_credit_code(credit_code)
    except ValueError as err:
        code, ignored["credit_code"] = None, f"{credit_code}: {err}"
    if code:
        data["credit_code"] = code
    opportunity = {"stage": "initial_contact", "amount": amount, "expected_close": expected_close}
    if row.status == "converted":
        opportunity_id = row.opportunity_id
        if opportunity_id is None:
            name = opportunity_name or conn.execute(
                sa.select(customers.c.name).where(customers.c.id == row.customer_id)).scalar_one()
            opportunity_id = create(ctx, "opportunity", {**opportunity, "customer_id": row.customer_id, "name": name,
                                                         "owner": row.owner, "team": row.team})["id"]
            conn.execute(leads.update().where(leads.c.id == lead_id).values(opportunity_id=opportunity_id))
            log_change(conn, "lead", lead_id, row.customer_id, "updated", actor,
                       {"opportunity_id": [None, opportunity_id]}, now)
        answer = {"customer_id": row.customer_id, "opportunity_id": opportunity_id, "linked": True,
                  "matched_by": "lead", "ignored": ignored}
    else:
        opportunity["name"] = opportunity_name or row.company or row.name
        customer, warnings, done = hub_records.convert_lead_in(conn, ctx.store, lead_id, actor, now, data,
                                                               link_existing=True, opportunity=opportunity)
        answer = {"customer_id": customer["id"], "opportunity_id": done["opportunity"]["id"],
                  "linked": done["matched_by"] is not None, "matched_by": done["matched_by"], "ignored": ignored}
    audit(ctx, "lead_converted", {"lead_id": lead_id, "owner": row.owner, "team": row.team, **answer})
    return answer


@operation()
def update_customer(ctx, customer_id=None, **changes):
    """Change some of the customer's fields (not its owner: that is assign_lead or return_to_pool)."""
    conn, now, actor = ctx.conn, clock.now(), ctx.actor or "engine"
    cid = customer_of(ctx, customer_id)
    if "owner" in changes:
        raise OperationError("the owner is changed with assign_lead or return_to_pool, not update_customer")
    row = conn.execute(sa.select(customers).where(customers.c.id == cid).with_for_update()).first()
    if row is None:
        raise OperationError(f"no customer with id {cid}")
    spec = {k: v for k, v in customer_spec(Vocabularies(conn)).items() if k in EDITABLE}
    values, errors = fields.clean(spec, changes, partial=True)
    if errors:
        raise OperationError("the customer has invalid fields: " + fields.describe(errors))
    changed = diff(row_dict(row), values)
    if changed:
        conn.execute(customers.update().where(customers.c.id == cid).values(**values, updated_at=now))
        log_change(conn, "customer", cid, cid, "updated", actor, changed, now)
    return {"customer_id": cid, "changed": sorted(changed)}


@operation()
def open_ticket(ctx, subject, kind="service", customer_id=None, priority="normal", description=None):
    cid = customer_of(ctx, customer_id)
    record = create(ctx, "ticket", {"customer_id": cid, "kind": kind, "subject": subject, "priority": priority,
                                    "description": description})
    from engine.sop.watch import refresh_health
    refresh_health(ctx.conn, cid)
    return {"ticket_id": record["id"], "owner": record["owner"], "team": record["team"]}


@operation()
def update_ticket(ctx, ticket_id, status):
    record = update(ctx, "ticket", int(ticket_id), {"status": status})
    from engine.sop.watch import refresh_health
    refresh_health(ctx.conn, record["customer_id"])
    return {"ticket_id": record["id"], "status": record["status"]}


@operation()
def record_outcome(ctx, kind, customer_id=None, **values):
    """Facts a report reads: a complaint's root cause and related product, contract and user; a renewal
    won or lost. Stored as an audit event `sop_outcome`."""
    cid = customer_of(ctx, customer_id) if customer_id is not None or ctx.business_key else None
    owner = ctx.conn.execute(sa.select(customers.c.owner, customers.c.team).where(customers.c.id == cid)).first() \
        if cid is not None else None
    audit(ctx, "sop_outcome", {"kind": kind, "customer_id": cid, "owner": owner and owner.owner,
                               "team": owner and owner.team, **values})
    return {"kind": kind, **values}


@operation()
def record_survey(ctx, csat, nps=None, comment=None, revisit=None, customer_id=None, low_csat=2, low_nps=4):
    """A satisfaction answer (CSAT 1-5, NPS 0-10). Answers {low}: true when CSAT <= low_csat or NPS <=
    low_nps, which the revisit SOP turns into a complaint."""
    cid = customer_of(ctx, customer_id)
    try:
        csat = int(csat)
        nps = None if nps in (None, "") else int(nps)
    except (TypeError, ValueError):
        raise OperationError(f"CSAT and NPS must be whole numbers (got {csat!r}, {nps!r})") from None
    if not 1 <= csat <= 5 or nps is not None and not 0 <= nps <= 10:
        raise OperationError(f"CSAT must be 1-5 and NPS 0-10 (got {csat}, {nps})")
    low = csat <= int(low_csat) or (nps is not None and nps <= int(low_nps))
    owner = ctx.conn.execute(sa.select(customers.c.owner, customers.c.team).where(customers.c.id == cid)).first()
    audit(ctx, "survey_recorded", {"customer_id": cid, "csat": csat, "nps": nps, "comment": comment,
                                   "revisit": revisit, "low": low, "owner": owner and owner.owner,
                                   "team": owner and owner.team})
    return {"low": low, "csat": csat, "nps": nps}
