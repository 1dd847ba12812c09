"""Check-ins (打卡): admin-defined templates per scenario, versioned; a check-in is validated against
the template version it was filled in on, stamped with server time, and flagged when its location is
far from the customer's."""
import re
from datetime import date

import sqlalchemy as sa

from engine import clock
from engine.errors import InvalidInput, NotFound

from engine.customers.common import row_dict
from engine.customers.fields import describe, empty
from engine.customers.geo import distance_m
from engine.customers.interactions import after_interaction, touch
from engine.customers.schema import checkin_files, checkin_templates, checkins, customers
from engine.customers.settings import get_settings

TYPES = ("text", "number", "single", "multi", "date", "location", "photo", "signature")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")


# ---- templates -----------------------------------------------------------------------------------
def _check_definition(fields):
    errors, names = {}, {}
    if not isinstance(fields, list) or not fields:
        raise InvalidInput("a template needs a list of fields", {"fields": ["empty or not a list"]})
    for index, field in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(field, dict):
            errors[where] = ["not an object"]
            continue
        name, kind = field.get("name"), field.get("type")
        problems = []
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append("name must be letters, digits and _ (e.g. fault_description)")
        elif name in names:
            problems.append(f"the name '{name}' is used twice")
        if kind not in TYPES:
            problems.append(f"type must be one of {', '.join(TYPES)}")
        if kind in ("single", "multi") and not (isinstance(field.get("options"), list) and field["options"]):
            problems.append("a choice field needs options")
        show_if = field.get("show_if")
        if show_if is not None:
            other = names.get(show_if.get("field")) if isinstance(show_if, dict) else None
            if other is None:
                problems.append("show_if must name an earlier field: {\"field\": ..., \"equals\": ...} or \"in\"")
            elif not ({"equals", "in"} & set(show_if)):
                problems.append("show_if needs 'equals' or 'in'")
        unknown = set(field) - {"name", "label", "type", "required", "options", "show_if", "min", "max", "help"}
        if unknown:
            problems.append(f"unknown keys {', '.join(sorted(unknown))}")
        if problems:
            errors[f"{where} ({name})" if isinstance(name, str) else where] = problems
        if isinstance(name, str):
            names[name] = field
    if errors:
        raise InvalidInput("the template's fields are not valid", errors)


def define_template(engine, scenario, name, fields, actor=None) -> dict:
    """A new version of the scenario's template (version 1 for a new scenario). Earlier check-ins keep
    the version they were made on."""
    if not scenario or not _NAME.match(scenario):
        raise InvalidInput("a scenario is a short code like visit or repair", {"scenario": ["invalid"]})
    _check_definition(fields)
    with engine.db.begin() as conn:
        latest = conn.execute(sa.select(sa.func.max(checkin_templates.c.version))
                              .where(checkin_templates.c.scenario == scenario)).scalar() or 0
        new_id = conn.execute(checkin_templates.insert().values(
            scenario=scenario, version=latest + 1, name=name or scenario, fields=fields, active=True,
            created_at=clock.now(), created_by=actor).returning(checkin_templates.c.id)).scalar_one()
        return row_dict(conn.execute(sa.select(checkin_templates).where(checkin_templates.c.id == new_id)).one())


def get_template(engine, scenario, version=None) -> dict:
    with engine.db.connect() as conn:
        return row_dict(_template(conn, scenario, version))


def _template(conn, scenario, version):
    query = sa.select(checkin_templates).where(checkin_templates.c.scenario == scenario)
    query = query.where(checkin_templates.c.version == version) if version else \
        query.order_by(checkin_templates.c.version.desc()).limit(1)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no check-in template '{scenario}'" + (f" version {version}" if version else ""))
    return row


def list_templates(engine):
    """The newest version of every scenario."""
    with engine.db.connect() as conn:
        newest = sa.select(checkin_templates.c.scenario, sa.func.max(checkin_templates.c.version).label("v")) \
            .group_by(checkin_templates.c.scenario).subquery()
        rows = conn.execute(sa.select(checkin_templates).join(newest, sa.and_(
            newest.c.scenario == checkin_templates.c.scenario, newest.c.v == checkin_templates.c.version))
            .order_by(checkin_templates.c.scenario))
        return [row_dict(r) for r in rows]


# ---- values --------------------------------------------------------------------------------------
def _visible(field, values):
    rule = field.get("show_if")
    if not rule:
        return True
    value = values.get(rule["field"])
    if "equals" in rule:
        return value == rule["equals"] or (isinstance(value, list) and rule["equals"] in value)
    return value in rule["in"] or (isinstance(value, list) and bool(set(value) & set(rule["in"])))


def _empty(value):
    return empty(value) or value == [] or value == {}


def _check_value(field, value, user, files):
    kind = field["type"]
    if kind == "text":
        if not isinstance(value, str) or len(value) > 5000:
            raise ValueError("must be text of at most 5000 characters")
        return value.strip()
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if field.get("min") is not None and value < field["min"] or field.get("max") is not None and value > field["max"]:
            raise ValueError(f"must lie between {field.get('min')} and {field.get('max')}")
        return value
    if kind == "single":
        if value not in field["options"]:
            raise ValueError(f"'{value}' is not one of {', '.join(map(str, field['options']))}")
        return value
    if kind == "multi":
        if not isinstance(value, list) or any(v not in field["options"] for v in value) or len(set(value)) != len(value):
            raise ValueError(f"must be a list of distinct options from {', '.join(map(str, field['options']))}")
        return value
    if kind == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)") from None
    if kind == "location":
        if not isinstance(value, dict):
            raise ValueError("must be {latitude, longitude, accuracy}")
        lat, lng, acc = value.get("latitude"), value.get("longitude"), value.get("accuracy", 0)
        for label, v, low, high in (("latitude", lat, -90, 90), ("longitude", lng, -180, 180), ("accuracy", acc, 0, 1e6)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
                raise ValueError(f"{label} must be a number between {low} and {high:g}")
        return {"latitude": lat, "longitude": lng, "accuracy": acc}
    # photo (one id or a list) and signature (one id): files uploaded first by the same user
    ids = value if isinstance(value, list) and kind == "photo" else [value]
    if not ids or any(not isinstance(i, str) for i in ids):
        raise ValueError("must be the id of an uploaded file" + (" or a list of ids" if kind == "photo" else ""))
    if field.get("max") and len(ids) > field["max"]:
        raise ValueError(f"at most {field['max']} photos")
    for file_id in ids:
        stored = files.get(file_id)
        if stored is None:
            raise ValueError(f"no uploaded file {file_id}")
        if stored.uploaded_by != user:
            raise ValueError(f"file {file_id} was uploaded by someone else")
        if stored.checkin_id is not None:
            raise ValueError(f"file {file_id} belongs to another check-in")
    return value


def validate_values(fields, values, user=None, files=None) -> dict:
    """The cleaned values, or InvalidInput naming each bad field. Hidden fields (show_if false) must be
    empty; required ones must be filled when shown."""
    if not isinstance(values, dict):
        raise InvalidInput("check-in values must be an object", {"values": ["not an object"]})
    errors, clean = {}, {}
    known = {f["name"]: f for f in fields}
    for name in values:
        if name not in known:
            errors[name] = ["not a field of this template"]
    for field in fields:
        name, value = field["name"], values.get(field["name"])
        if not _visible(field, values):
            if not _empty(value):
                rule = field["show_if"]
                errors[name] = [f"only filled in when {rule['field']} is {rule.get('equals', rule.get('in'))}"]
            continue
        if _empty(value):
            if field.get("required"):
                errors[name] = ["required"]
            continue
        try:
            clean[name] = _check_value(field, value, user, files or {})
        except ValueError as err:
            errors[name] = [str(err)]
    if errors:
        raise InvalidInput("the check-in has invalid fields: " + describe(errors), errors)
    return clean


def _file_ids(fields, values):
    ids = []
    for field in fields:
        if field["type"] in ("photo", "signature") and field["name"] in values:
            value = values[field["name"]]
            ids.extend(value if isinstance(value, list) else [value])
    return ids


# ---- check-ins -----------------------------------------------------------------------------------
def create_checkin(engine, scenario, customer_id, user, values, template_version=None) -> dict:
    """Validate and store a check-in; it counts as an interaction with the customer."""
    now = clock.now()
    with engine.db.begin() as conn:
        template = _template(conn, scenario, template_version)
        customer = conn.execute(sa.select(customers.c.id, customers.c.latitude, customers.c.longitude)
                                .where(customers.c.id == customer_id)).first()
        if customer is None:
            raise NotFound(f"no customer with id {customer_id}")
        fields = template.fields
        wanted = [v for v in _file_ids(fields, values) if isinstance(v, str)] if isinstance(values, dict) else []
        files = {r.id: r for r in conn.execute(sa.select(checkin_files).where(checkin_files.c.id.in_(wanted))
                                               .with_for_update())} if wanted else {}
        clean = validate_values(fields, values, user, files)
        location = next((clean[f["name"]] for f in fields if f["type"] == "location" and f["name"] in clean), None)
        distance, far = None, False
        if location and customer.latitude is not None and customer.longitude is not None:
            distance = round(distance_m(location["latitude"], location["longitude"],
                                        customer.latitude, customer.longitude), 1)
            far = distance - (location["accuracy"] or 0) > get_settings(conn)["checkin.max_distance_m"]
        new_id = conn.execute(checkins.insert().values(
            template_id=template.id, scenario=scenario, template_version=template.version, customer_id=customer_id,
            user=user, at=now, values=clean, latitude=location and location["latitude"],
            longitude=location and location["longitude"], accuracy=location and location["accuracy"],
            distance_m=distance, far_from_customer=far).returning(checkins.c.id)).scalar_one()
        ids = _file_ids(fields, clean)
        if ids:
            conn.execute(checkin_files.update().where(checkin_files.c.id.in_(ids)).values(checkin_id=new_id))
        touch(conn, customer_id, now)
        after_interaction(engine, conn, customer_id)
        return row_dict(conn.execute(sa.select(checkins).where(checkins.c.id == new_id)).one())


def list_checkins(engine, customer_id=None, user=None, page=1, page_size=50, users=None):
    """`user`: only that user's check-ins; `users`: only those of these users (a supervisor's teams)."""
    base = sa.select(checkins)
    if customer_id is not None:
        base = base.where(checkins.c.customer_id == customer_id)
    if user is not None:
        base = base.where(checkins.c.user == user)
    if users is not None:
        base = base.where(checkins.c.user.in_(sorted(users)))
    with engine.db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(checkins.c.id.desc()).offset((page - 1) * page_size).limit(page_size))
        return [row_dict(r) for r in rows], total
