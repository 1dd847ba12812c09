"""The records around a customer: contacts, leads, opportunities, contracts, payments and tickets
(complaints and service requests). One generic create/update/get/list, with per-kind field specs and
life-cycle rules; every change is logged in `record_changes` against the customer."""
import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound

from engine.customers import fields
from engine.customers.common import diff, log_change, row_dict, user_info
from engine.customers.normalize import normalize_phone
from engine.customers.schema import (contacts, contracts, customers, interactions, leads, opportunities, payments, tickets)
from engine.customers.vocab import Vocabularies

STAGES = {"initial_contact": "initial_contact", "初步接触": "initial_contact",
          "needs_analysis": "needs_analysis", "需求分析": "needs_analysis",
          "proposal": "proposal", "方案报价": "proposal", "negotiation": "negotiation", "商务谈判": "negotiation",
          "won": "won", "赢单": "won", "lost": "lost", "输单": "lost"}
OPEN_STAGES = ("initial_contact", "needs_analysis", "proposal", "negotiation")


def _phone(value):
    return normalize_phone(value)


def _codes(*codes):
    return {c: c for c in codes}


def _customer_ref(value):
    if fields.empty(value):
        raise ValueError("required")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{value}' is not a customer id") from None


def _specs(vocab):
    owned = {"owner": fields.text(100), "team": fields.text(100)}
    return {
        "contact": {"customer_id": _customer_ref, "name": fields.text(200, required=True), "title": fields.text(200),
                    "phone": _phone, "email": fields.email, "wechat": fields.text(100),
                    "is_primary": lambda v: bool(fields.boolean(v)),
                    "status": fields.choice({**_codes("active", "left"), "在职": "active", "离职": "left"}, "active"),
                    **owned},
        "lead": {"name": fields.text(200, required=True), "company": fields.text(300), "phone": _phone,
                 "email": fields.email, "source": lambda v: vocab.resolve("source", v),
                 "region": lambda v: vocab.resolve("region", v), "note": fields.text(5000, lines=True),
                 "status": fields.choice(_codes("new", "contacted", "qualified", "converted", "disqualified"), "new"),
                 **owned},
        "opportunity": {"customer_id": _customer_ref, "name": fields.text(300, required=True),
                        "stage": fields.choice(STAGES, "initial_contact"), "amount": fields.money,
                        "expected_close": fields.day, "lost_reason": fields.text(2000, lines=True), **owned},
        "contract": {"customer_id": _customer_ref, "opportunity_id": fields.number(1), "number": fields.text(100),
                     "title": fields.text(300, required=True), "start_date": fields.day, "end_date": fields.day,
                     "amount": fields.money, "currency": fields.choice(_codes("CNY", "USD", "EUR", "HKD"), "CNY"),
                     "status": fields.choice(_codes("draft", "active", "expired", "terminated"), "draft"), **owned},
        "payment": {"contract_id": _customer_ref, "amount": lambda v: _required(fields.money(v)),
                    "paid_on": lambda v: _required(fields.day(v)), "method": fields.text(30),
                    "note": fields.text(2000, lines=True), "status": fields.choice(_codes("received", "refunded"), "received"),
                    **owned},
        "ticket": {"customer_id": _customer_ref, "kind": fields.choice({**_codes("complaint", "service"),
                                                                        "投诉": "complaint", "服务": "service"}, "service"),
                   "subject": fields.text(300, required=True), "description": fields.text(10000, lines=True),
                   "priority": fields.choice(_codes("low", "normal", "high", "urgent"), "normal"),
                   "status": fields.choice(_codes("open", "in_progress", "resolved", "closed"), "open"), **owned},
    }


def _required(value):
    if value is None:
        raise ValueError("required")
    return value


TABLES = {"contact": contacts, "lead": leads, "opportunity": opportunities, "contract": contracts,
          "payment": payments, "ticket": tickets}
IMMUTABLE = {"customer_id", "contract_id"}


def _table(kind):
    if kind not in TABLES:
        raise NotFound(f"no kind of record '{kind}'")
    return TABLES[kind]


def _rules(conn, kind, values, before, now, errors):
    """Life-cycle rules per kind; fills derived values (closed_at, resolved_at, customer of a payment)."""
    merged = {**before, **values}
    if kind == "opportunity":
        if merged.get("stage") == "lost" and not merged.get("lost_reason"):
            errors.setdefault("lost_reason", []).append("required when the opportunity is lost")
        if values.get("stage") in ("won", "lost") and before.get("stage") not in ("won", "lost"):
            values["closed_at"] = now
        elif values.get("stage") in OPEN_STAGES and before.get("stage") in ("won", "lost"):
            values["closed_at"] = None
    if kind == "contract":
        if merged.get("start_date") and merged.get("end_date") and merged["end_date"] < merged["start_date"]:
            errors.setdefault("end_date", []).append("ends before it starts")
        if values.get("opportunity_id") is not None:
            values["opportunity_id"] = int(values["opportunity_id"])
    if kind == "ticket" and "status" in values:
        if values["status"] in ("resolved", "closed") and not before.get("resolved_at"):
            values["resolved_at"] = now
        elif values["status"] in ("open", "in_progress"):
            values["resolved_at"] = None
    if kind == "payment" and "contract_id" in values and not before:
        contract = conn.execute(sa.select(contracts.c.customer_id).where(contracts.c.id == values["contract_id"])).first()
        if contract is None:
            errors.setdefault("contract_id", []).append(f"no contract with id {values['contract_id']}")
        else:
            values["customer_id"] = contract.customer_id


def _customer(conn, customer_id, errors):
    row = conn.execute(sa.select(customers.c.id, customers.c.owner, customers.c.team)
                       .where(customers.c.id == customer_id)).first()
    if row is None:
        errors.setdefault("customer_id", []).append(f"no customer with id {customer_id}")
    return row


def create_record(engine, kind, data, actor=None) -> dict:
    """Create a contact, lead, opportunity, contract, payment or ticket. Owner and team default to the
    customer's."""
    with engine.db.begin() as conn:
        return create_in(conn, engine.instances, kind, data, actor, clock.now())


def create_in(conn, store, kind, data, actor, now) -> dict:
    """`create_record` inside the caller's transaction (a service task's, or the API's). `store`: the
    engine's InstanceStore, for the SOPs a record starts."""
    table = _table(kind)
    values, errors = fields.clean(_specs(Vocabularies(conn))[kind], data)
    _rules(conn, kind, values, {}, now, errors)
    customer = _customer(conn, values["customer_id"], errors) if values.get("customer_id") else None
    if customer is not None:
        values["owner"] = values.get("owner") or customer.owner
        values["team"] = values.get("team") or customer.team
    if values.get("owner") and values["owner"] not in user_info(conn, [values["owner"]]):
        errors.setdefault("owner", []).append(f"'{values['owner']}' is not a user")
    if errors:
        raise InvalidInput(f"the {kind} has invalid fields: " + fields.describe(errors), errors)
    new_id = conn.execute(table.insert().values(**values, created_at=now, created_by=actor, updated_at=now)
                          .returning(table.c.id)).scalar_one()
    log_change(conn, kind, new_id, values.get("customer_id"), "created", actor, diff({}, values), now)
    _after(store, conn, kind, new_id, values, {}, actor, now)
    return row_dict(conn.execute(sa.select(table).where(table.c.id == new_id)).one())


def update_record(engine, kind, record_id, data, actor=None) -> dict:
    with engine.db.begin() as conn:
        return update_in(conn, engine.instances, kind, record_id, data, actor, clock.now())


def update_in(conn, store, kind, record_id, data, actor, now) -> dict:
    """`update_record` inside the caller's transaction."""
    table = _table(kind)
    row = conn.execute(sa.select(table).where(table.c.id == record_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no {kind} with id {record_id}")
    spec = {k: v for k, v in _specs(Vocabularies(conn))[kind].items() if k not in IMMUTABLE}
    values, errors = fields.clean(spec, {k: v for k, v in data.items() if k not in IMMUTABLE}, partial=True)
    for name in IMMUTABLE & set(data):
        errors[name] = ["cannot be changed; create a new record instead"]
    before = row_dict(row)
    _rules(conn, kind, values, before, now, errors)
    if values.get("owner") and values["owner"] not in user_info(conn, [values["owner"]]):
        errors.setdefault("owner", []).append(f"'{values['owner']}' is not a user")
    if errors:
        raise InvalidInput(f"the {kind} has invalid fields: " + fields.describe(errors), errors)
    changes = diff(before, values)
    if changes:
        conn.execute(table.update().where(table.c.id == record_id).values(**values, updated_at=now))
        log_change(conn, kind, record_id, before.get("customer_id"), "updated", actor, changes, now)
        _after(store, conn, kind, record_id, values, before, actor, now)
    return row_dict(conn.execute(sa.select(table).where(table.c.id == record_id)).one())


# The SOPs a contract starts when it becomes active (signed), each only if it is deployed, in the same
# transaction as the change: the renewal reminders count down to its end, the care revisits from its start.
SOPS_ON_SIGNING = ("renewal_reminder", "care_revisit")


def _start_signing_sops(store, conn, contract_id, contract, actor, now, only=SOPS_ON_SIGNING):
    """Each SOP of `only` that is deployed; the renewal reminders only with an end date; the care
    revisits only when the customer has none running (one customer, one revisit plan)."""
    from engine.status import FINAL
    from engine.storage.schema import definitions, instances

    deployed = {r.key for r in conn.execute(sa.select(definitions.c.key).where(
        definitions.c.key.in_(only)).distinct())}
    if "care_revisit" in deployed and conn.execute(sa.select(instances.c.id).where(
            instances.c.process_key == "care_revisit", instances.c.business_key == str(contract["customer_id"]),
            instances.c.status.not_in(list(FINAL))).limit(1)).first() is not None:
        deployed.discard("care_revisit")
    signed_on = contract.get("start_date") or now.date()
    variables = {
        "renewal_reminder": {"contract_id": contract_id, "contract_title": contract.get("title") or "",
                             "end_date": str(contract.get("end_date")) if contract.get("end_date") else None,
                             "amount": float(contract["amount"]) if contract.get("amount") is not None else None},
        "care_revisit": {"signed_on": str(signed_on), "owner": contract.get("owner")},
    }
    for key in SOPS_ON_SIGNING:
        if key in deployed and (key != "renewal_reminder" or contract.get("end_date")):
            store.start(store.definitions.get(conn, key), str(contract["customer_id"]), variables[key],
                        actor=actor, conn=conn)


def _move_renewal_reminders(store, conn, contract_id, before, contract, actor, now):
    """An active contract's end date corrected: its running renewal reminders (60/30/7 days before the old
    date) end, and new ones count down to the new date, in the same transaction as the change. Reminders
    that already ended (renewed, lost) stay ended."""
    from engine.status import FINAL
    from engine.storage.schema import instances

    running = [r.id for r in conn.execute(sa.select(instances.c.id).where(
        instances.c.process_key == "renewal_reminder", instances.c.business_key == str(contract["customer_id"]),
        instances.c.status.not_in(list(FINAL))))]
    reason = f"contract {contract_id}'s end date changed from {before['end_date']} to {contract['end_date']}"
    moved = [i for i in running if store.cancel_in(conn, i, actor, reason,
                                                   only_if=lambda v: v.get("contract_id") == contract_id)]
    if moved:
        _start_signing_sops(store, conn, contract_id, contract, actor, now, only=("renewal_reminder",))


def _after(store, conn, kind, record_id, values, before, actor, now):
    """A won opportunity makes its customer a customer (status), logged like any change; a contract that
    becomes active starts the SOPS_ON_SIGNING."""
    if kind == "contract" and values.get("status") == "active" and before.get("status") != "active":
        _start_signing_sops(store, conn, record_id, {**before, **values}, actor, now)
    elif kind == "contract" and before.get("status") == "active" and values.get("end_date") \
            and not before.get("end_date"):  # activated without an end date: the reminders start once it is known
        _start_signing_sops(store, conn, record_id, {**before, **values}, actor, now, only=("renewal_reminder",))
    elif kind == "contract" and before.get("status") == "active" and values.get("status", "active") == "active" \
            and values.get("end_date") and before.get("end_date") \
            and str(values["end_date"]) != str(before["end_date"]):
        _move_renewal_reminders(store, conn, record_id, before, {**before, **values}, actor, now)
    if kind == "opportunity" and values.get("stage") == "won" and before.get("stage") != "won":
        customer_id = values.get("customer_id") or before.get("customer_id")
        status = conn.execute(sa.select(customers.c.status).where(customers.c.id == customer_id)).scalar_one()
        if status != "customer":
            conn.execute(customers.update().where(customers.c.id == customer_id).values(status="customer", updated_at=now))
            log_change(conn, "customer", customer_id, customer_id, "updated", actor, {"status": [status, "customer"]}, now)


def with_subjects(conn, tasks):
    """Each task dict gets `about`: the customer ('42', 'customer:42') or lead ('lead:7') its instance's
    business key names, with name and phone, so an inbox says whom to call; None for anything else.
    Two queries per page, whatever its size."""
    from engine.customers.interactions import customer_id_of

    keys = {t["business_key"] for t in tasks if t.get("business_key")}
    customer_ids = {k: customer_id_of(k) for k in keys}
    lead_ids = {k: int(k[5:]) for k in keys if k.startswith("lead:") and k[5:].isdigit()}
    found = {}
    wanted = [i for i in customer_ids.values() if i is not None]
    if wanted:
        for r in conn.execute(sa.select(customers.c.id, customers.c.name, customers.c.phone)
                              .where(customers.c.id.in_(wanted))):
            found[("customer", r.id)] = {"kind": "customer", "id": r.id, "name": r.name, "phone": r.phone}
    if lead_ids:
        for r in conn.execute(sa.select(leads.c.id, leads.c.name, leads.c.company, leads.c.phone)
                              .where(leads.c.id.in_(list(lead_ids.values())))):
            name = f"{r.name}（{r.company}）" if r.company and r.name else r.name or r.company
            found[("lead", r.id)] = {"kind": "lead", "id": r.id, "name": name, "phone": r.phone}
    out = []
    for task in tasks:
        key = task.get("business_key")
        about = None
        if key in lead_ids:
            about = found.get(("lead", lead_ids[key]))
        elif customer_ids.get(key) is not None:
            about = found.get(("customer", customer_ids[key]))
        out.append({**task, "about": about})
    return out


def close_ticket_of_cancelled(conn, variables, actor, at):
    """In the transaction that cancels an instance: the ticket it opened (its `ticket_id` variable) is
    closed when still open, logged. Returns the ticket's customer id, or None when nothing was closed."""
    ticket_id = (variables or {}).get("ticket_id")
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
        return None
    row = conn.execute(sa.select(tickets.c.status, tickets.c.customer_id).where(tickets.c.id == ticket_id)
                       .with_for_update()).first()
    if row is None or row.status not in ("open", "in_progress"):
        return None
    conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(status="closed", updated_at=at))
    log_change(conn, "ticket", ticket_id, row.customer_id, "updated", actor or "engine",
               {"status": [row.status, "closed"], "reason": [None, "process cancelled"]}, at)
    return row.customer_id


def get_record(engine, kind, record_id) -> dict:
    table = _table(kind)
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == record_id)).first()
        if row is None:
            raise NotFound(f"no {kind} with id {record_id}")
        return row_dict(row)


def list_records(engine, kind, customer_id=None, page=1, page_size=50, owners=None, teams=None, **filters):
    table = _table(kind)
    base = sa.select(table)
    if customer_id is not None and "customer_id" in table.c:
        base = base.where(table.c.customer_id == customer_id)
    if owners is not None or teams is not None:
        base = base.where(sa.or_(table.c.owner.in_(list(owners or [])), table.c.team.in_(list(teams or []))))
    for name, value in filters.items():
        if value is not None and name in table.c:
            base = base.where(table.c[name] == value)
    with engine.db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(table.c.id.desc()).offset((page - 1) * page_size).limit(page_size))
        return [row_dict(r) for r in rows], total


def convert_lead(engine, lead_id, actor=None, customer_data=None, link_existing=True, with_match=False):
    """Turn a lead into a customer (and a contact), or link it to the existing customer it matches (as the
    lead SOP does; `link_existing=False` always creates one); returns (customer, warnings), and with
    `with_match` also {"matched_by"}."""
    with engine.db.begin() as conn:
        customer, warnings, info = convert_lead_in(conn, engine.instances, lead_id, actor, clock.now(), customer_data,
                                                   link_existing=link_existing)
    return (customer, warnings, info) if with_match else (customer, warnings)


def convert_lead_in(conn, store, lead_id, actor, now, customer_data=None, link_existing=False, opportunity=None):
    """`convert_lead` inside the caller's transaction: the customer gets the lead's owner and team, a
    company lead's person becomes its primary contact, the lead is marked converted and linked to the
    customer, and the calls and visits logged on the lead move to the customer.

    With `link_existing`, a customer the lead matches by the hub's identity rules (the credit code, else
    the normalised company name, else a phone of the customer or of one of its contacts; a customer with
    another credit code never matches) is linked instead of creating a duplicate; it keeps its owner,
    unless it sits in the public pool, in which case the lead's owner takes it. `opportunity` (fields of
    an opportunity; owner and team default to the lead's) opens one for the customer and links it too.
    Returns (customer, warnings, {"matched_by", "opportunity"})."""
    from engine.customers.customers import create_customer_in, spec
    from engine.customers.interactions import touch
    from engine.customers.ownership import set_owner

    lead = conn.execute(sa.select(leads).where(leads.c.id == lead_id).with_for_update()).first()
    if lead is None:
        raise NotFound(f"no lead with id {lead_id}")
    if lead.status == "converted":
        raise Conflict(f"lead {lead_id} was already converted to customer {lead.customer_id}")
    data = {"name": lead.company or lead.name, "kind": "company" if lead.company else "person",
            "phone": lead.phone, "source": lead.source, "region": lead.region, "owner": lead.owner,
            "team": lead.team, "status": "prospect", **(customer_data or {})}
    existing, matched_by, warnings = None, None, []
    if link_existing:
        existing, matched_by = _matching_customer(conn, data, spec(Vocabularies(conn)))
    if existing is None:
        customer, warnings = create_customer_in(conn, data, actor, now)
        if lead.company:
            create_in(conn, store, "contact", {"customer_id": customer["id"], "name": lead.name, "phone": lead.phone,
                                               "email": lead.email, "is_primary": True}, actor, now)
    else:
        if existing.owner is None and lead.owner:
            set_owner(conn, existing.id, None, lead.owner, actor, "assigned", now, note=f"lead {lead_id} converted",
                      team=lead.team)
        customer = row_dict(conn.execute(sa.select(customers).where(customers.c.id == existing.id)).one())
    opportunity_row = None
    if opportunity is not None:
        opportunity_row = create_in(conn, store, "opportunity", {
            "customer_id": customer["id"], "owner": lead.owner, "team": lead.team, **opportunity}, actor, now)
    update_in(conn, store, "lead", lead_id, {"status": "converted"}, actor, now)
    links = {"customer_id": [None, customer["id"]]}
    values = {"customer_id": customer["id"]}
    if opportunity_row is not None:
        links["opportunity_id"] = [lead.opportunity_id, opportunity_row["id"]]
        values["opportunity_id"] = opportunity_row["id"]
    conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))
    log_change(conn, "lead", lead_id, customer["id"], "updated", actor, links, now)
    conn.execute(interactions.update().where(interactions.c.lead_id == lead_id, interactions.c.customer_id.is_(None))
                 .values(customer_id=customer["id"]))
    last = conn.execute(sa.select(sa.func.max(interactions.c.at)).where(interactions.c.lead_id == lead_id)).scalar()
    if last is not None:
        touch(conn, customer["id"], last)
    return customer, warnings, {"matched_by": matched_by, "opportunity": opportunity_row}


def _matching_customer(conn, data, customer_spec):
    """(customer row, 'credit_code' | 'name' | 'phone') the data would duplicate, or (None, None)."""
    from engine.customers.normalize import normalize_name

    def clean(name):
        try:
            return customer_spec[name](data.get(name))
        except ValueError:
            return None  # create_customer_in reports it

    code, phone = clean("credit_code"), clean("phone")
    if code:
        row = conn.execute(sa.select(customers).where(customers.c.credit_code == code)).first()
        if row is not None:
            return row, "credit_code"

    def first(condition):
        query = sa.select(customers).where(condition)
        if code:  # another credit code: another company, whatever its name
            query = query.where(customers.c.credit_code.is_(None))
        return conn.execute(query.order_by(customers.c.id).limit(1)).first()

    name_key = normalize_name(data.get("name")) if data.get("kind", "company") == "company" else None
    if name_key and (row := first(customers.c.name_key == name_key)) is not None:
        return row, "name"
    if phone and (row := first(sa.or_(customers.c.phone == phone, customers.c.id.in_(
            sa.select(contacts.c.customer_id).where(contacts.c.phone == phone))))) is not None:
        return row, "phone"
    return None, None
