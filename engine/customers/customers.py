"""Customers: validation, identity checks (credit code refused, name/phone warned), create, update,
read and list. Ownership changes go through `ownership.py`."""
import re

import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound

from engine.customers import fields
from engine.customers.common import diff, fresh_customer_ids, log_change, row_dict, user_info
from engine.customers.normalize import normalize_credit_code, normalize_name, normalize_phone
from engine.customers.ownership import set_owner
from engine.customers.schema import contacts, customers
from engine.customers.vocab import Vocabularies

KINDS = {"company": "company", "企业": "company", "公司": "company", "单位": "company",
         "person": "person", "个人": "person"}
STATUSES = {"lead": "lead", "线索": "lead", "prospect": "prospect", "潜在客户": "prospect", "意向客户": "prospect",
            "customer": "customer", "客户": "customer", "成交客户": "customer", "churned": "churned",
            "流失": "churned", "流失客户": "churned"}
EDITABLE = ("kind", "name", "credit_code", "phone", "email", "level", "source", "region", "industry", "tags",
            "address", "latitude", "longitude", "status", "note", "team")


def _converter(func):
    def convert(value):
        return func(value)
    return convert


def _tags(vocab):
    def convert(value):
        if fields.empty(value):
            return []
        items = value if isinstance(value, (list, tuple)) else re.split(r"[,，、;；|]", str(value))
        return sorted({vocab.resolve("tag", item) for item in items if str(item).strip()})
    return convert


def spec(vocab: Vocabularies) -> dict:
    return {
        "kind": fields.choice(KINDS, default="company"),
        "name": fields.text(300, required=True),
        "credit_code": _converter(normalize_credit_code),
        "phone": _converter(normalize_phone),
        "email": fields.email,
        "level": lambda v: vocab.resolve("level", v),
        "source": lambda v: vocab.resolve("source", v),
        "region": lambda v: vocab.resolve("region", v),
        "industry": lambda v: vocab.resolve("industry", v),
        "tags": _tags(vocab),
        "address": fields.text(500),
        "latitude": fields.number(-90, 90),
        "longitude": fields.number(-180, 180),
        "status": fields.choice(STATUSES, default="lead"),
        "note": fields.text(5000, lines=True),
        "owner": fields.text(100),
        "team": fields.text(100),
    }


def check_owner(conn, values, errors, known=None):
    """The owner must be an active user; the team defaults to the owner's only group."""
    owner = values.get("owner")
    if not owner:
        return
    info = (known if known is not None else user_info(conn, [owner])).get(owner)
    if info is None or not info["active"]:
        errors.setdefault("owner", []).append(f"'{owner}' is not an active user")
    elif not values.get("team") and len(info["groups"]) == 1:
        values["team"] = info["groups"][0]


def find_matches(conn, name_key=None, phones=(), exclude_id=None, limit=10) -> list[dict]:
    """Warnings for records that look like the same customer: same normalised name or phone
    (a customer's or one of its contacts'). Empty values never match."""
    warnings = []
    if name_key:
        query = sa.select(customers.c.id, customers.c.name, customers.c.owner, customers.c.team).where(
            customers.c.name_key == name_key).limit(limit)
        if exclude_id is not None:
            query = query.where(customers.c.id != exclude_id)
        found = [dict(r._mapping) for r in conn.execute(query)]
        if found:
            warnings.append({"field": "name", "reason": "a customer with the same name exists", "candidates": found})
    phones = [p for p in phones if p]
    if phones:
        query = sa.select(customers.c.id, customers.c.name, customers.c.owner, customers.c.team).where(
            sa.or_(customers.c.phone.in_(phones),
                   customers.c.id.in_(sa.select(contacts.c.customer_id).where(contacts.c.phone.in_(phones))))
        ).limit(limit)
        if exclude_id is not None:
            query = query.where(customers.c.id != exclude_id)
        found = [dict(r._mapping) for r in conn.execute(query)]
        if found:
            warnings.append({"field": "phone", "reason": "a customer with the same phone exists", "candidates": found})
    return warnings


def credit_code_holder(conn, code, exclude_id=None):
    if not code:
        return None
    query = sa.select(customers.c.id, customers.c.name).where(customers.c.credit_code == code)
    if exclude_id is not None:
        query = query.where(customers.c.id != exclude_id)
    return conn.execute(query).first()


def credit_code_conflict(holder, code):
    return Conflict(f"customer {holder.id} '{holder.name}' already has the credit code {code}",
                    existing_id=holder.id, existing_name=holder.name)


def name_key_for(values):
    return normalize_name(values.get("name"))


def warn_key(values):
    """Only company names are compared: two people called 张伟 are not a duplicate."""
    return values.get("name_key") if values.get("kind", "company") == "company" else None


def create_customer(engine, data: dict, actor=None):
    """Returns (customer, warnings). Refuses a credit code another customer has (Conflict naming it)."""
    with engine.db.begin() as conn:
        return create_customer_in(conn, data, actor, clock.now())


def create_customer_in(conn, data: dict, actor, now):
    """`create_customer` inside the caller's transaction (a service task's, or a lead's conversion). A
    customer created without owner lands in its team's public pool (in_pool), as one released by a
    transfer does: nobody follows it up, so the team's agents may claim it, and its team sees it."""
    values, errors = fields.clean(spec(Vocabularies(conn)), data)
    check_owner(conn, values, errors)
    if errors:
        raise InvalidInput("the customer has invalid fields: " + fields.describe(errors), errors)
    holder = credit_code_holder(conn, values["credit_code"])
    if holder is not None:
        raise credit_code_conflict(holder, values["credit_code"])
    values["name_key"] = name_key_for(values)
    warnings = find_matches(conn, warn_key(values), [values["phone"]])
    owner = values.pop("owner")
    try:
        with conn.begin_nested():
            fresh = fresh_customer_ids(conn, 1)
            new_id = conn.execute(customers.insert().values(
                **values, **({"id": fresh[0]} if fresh else {}), in_pool=not owner, created_at=now, created_by=actor,
                updated_at=now).returning(customers.c.id)).scalar_one()
    except sa.exc.IntegrityError:
        holder = credit_code_holder(conn, values["credit_code"])
        if holder is not None:
            raise credit_code_conflict(holder, values["credit_code"]) from None
        raise
    values.pop("name_key")
    log_change(conn, "customer", new_id, new_id, "created", actor, diff({}, values), now)
    if owner:
        set_owner(conn, new_id, None, owner, actor, "assigned", now)
    return row_dict(_row(conn, new_id)), warnings


def _row(conn, customer_id, lock=False):
    query = sa.select(customers).where(customers.c.id == customer_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    return row


def update_customer(engine, customer_id, data: dict, actor=None):
    """Change some fields. Returns (customer, warnings). The owner is changed with `ownership.transfer`."""
    if "owner" in data:
        raise InvalidInput("the owner is changed by a transfer or a claim, not an edit",
                           {"owner": ["use the transfer or claim operation"]})
    now = clock.now()
    with engine.db.begin() as conn:
        row = _row(conn, customer_id, lock=True)
        values, errors = fields.clean({k: v for k, v in spec(Vocabularies(conn)).items() if k in EDITABLE},
                                      data, partial=True)
        if errors:
            raise InvalidInput("the customer has invalid fields: " + fields.describe(errors), errors)
        before = row_dict(row)
        if values.get("credit_code"):
            holder = credit_code_holder(conn, values["credit_code"], exclude_id=customer_id)
            if holder is not None:
                raise credit_code_conflict(holder, values["credit_code"])
        if "name" in values or "kind" in values:
            values["name_key"] = name_key_for({**before, **values})
        changes = diff(before, values)
        changes.pop("name_key", None)
        warnings = []
        if "name" in changes or "phone" in changes:
            warnings = find_matches(conn, warn_key({**before, **values}) if "name" in changes else None,
                                    [values.get("phone")] if "phone" in changes else [], exclude_id=customer_id)
        if changes:
            conn.execute(customers.update().where(customers.c.id == customer_id).values(**values, updated_at=now))
            log_change(conn, "customer", customer_id, customer_id, "updated", actor, changes, now)
        return row_dict(_row(conn, customer_id)), warnings


def get_customer(engine, customer_id) -> dict:
    with engine.db.connect() as conn:
        return row_dict(_row(conn, customer_id))


def list_customers(engine, page=1, page_size=50, owner=None, owners=None, teams=None, status=None, level=None,
                   query=None, in_pool=None):
    """Newest first. `owners`/`teams` restrict to records held by those users or teams (access rules)."""
    base = sa.select(customers)
    if owner is not None:
        base = base.where(customers.c.owner == owner)
    if owners is not None or teams is not None:
        base = base.where(sa.or_(customers.c.owner.in_(list(owners or [])), customers.c.team.in_(list(teams or []))))
    if status:
        base = base.where(customers.c.status == status)
    if level:
        base = base.where(customers.c.level == level)
    if in_pool is not None:
        base = base.where(customers.c.in_pool == in_pool)
    if query:
        key = normalize_name(query)  # "" for punctuation only, which would match every name
        base = base.where(sa.or_(*([customers.c.name_key.like(_containing(key), escape="/")] if key else []),
                                 customers.c.name.like(_containing(query.strip()), escape="/"),
                                 customers.c.credit_code == query.strip().upper()))
    with engine.db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(customers.c.id.desc()).offset((page - 1) * page_size).limit(page_size))
        return [row_dict(r) for r in rows], total


def _containing(text) -> str:
    """A LIKE pattern for names containing `text` as typed: its % and _ are characters, not wildcards."""
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def names(engine, ids) -> dict:
    """{id: {name, owner, team, in_pool}} of the customers with these ids (unknown ids left out): what
    labelling a page of tasks by customer needs, in one statement."""
    ids = sorted({i for i in ids if isinstance(i, int) and 0 < i < 2**63})
    if not ids:
        return {}
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(customers.c.id, customers.c.name, customers.c.owner, customers.c.team,
                                      customers.c.in_pool).where(customers.c.id.in_(ids))).all()
    return {r.id: {"name": r.name, "owner": r.owner, "team": r.team, "in_pool": bool(r.in_pool)} for r in rows}
