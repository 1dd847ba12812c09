"""Importing customers from a spreadsheet as one revertable batch.

Every row is checked first (fields, vocabularies, owners, duplicates in the file and against the
database); a dry run stops there and writes nothing. A real run writes the good rows in one
transaction and keeps the bad ones as a downloadable error file (the original cells plus the reasons),
fixed and re-imported by the user.
"""
import re
import unicodedata
from collections import defaultdict

import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.storage.schema import audit_events

from engine.customers import fields
from engine.customers.common import diff, fresh_customer_ids, json_value, log_change, user_info
from engine.customers.customers import EDITABLE, check_owner, name_key_for, spec
from engine.customers.ownership import ownership_rows, set_owner
from engine.customers.schema import (checkins, contacts, contracts, customers, import_batches, interactions, leads, opportunities, ownership_changes, payments, record_changes, tickets)
from engine.customers.tabular import read_table, write_csv
from engine.customers.vocab import Vocabularies

MODES = {"create": "create", "create-only": "create", "upsert": "upsert", "create-or-update": "upsert",
         "update": "update", "update-only": "update"}
KEYS = ("credit_code", "name", "phone")
CHUNK = 1000

HEADERS = {
    "name": ("客户名称", "公司名称", "企业名称", "单位名称", "名称", "客户", "name", "company", "customer", "customer name"),
    "kind": ("客户类型", "类型", "kind", "type"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "credit_code", "credit code", "uscc"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "phone", "mobile", "tel", "telephone"),
    "email": ("电子邮箱", "邮箱", "email", "e-mail"),
    "level": ("客户级别", "客户等级", "级别", "等级", "level"),
    "source": ("客户来源", "来源", "source"),
    "region": ("所在地区", "地区", "区域", "省份", "region", "province"),
    "industry": ("所属行业", "行业", "industry"),
    "tags": ("标签", "tags", "tag"),
    "address": ("详细地址", "地址", "address"),
    "latitude": ("纬度", "latitude", "lat"),
    "longitude": ("经度", "longitude", "lng", "lon"),
    "status": ("客户状态", "状态", "status"),
    "note": ("备注", "说明", "note", "notes", "remark"),
    "owner": ("负责人", "归属人", "销售", "owner"),
    "team": ("所属团队", "团队", "部门", "team"),
}


def header_key(text):
    """'客户名称（必填）*' and ' Customer_Name ' both compare as their bare words."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = re.sub(r"\(.*?\)|\*", "", text)
    return re.sub(r"[\s_\-]+", " ", text).strip()


_KNOWN = {header_key(h): f for f, names in HEADERS.items() for h in names}


def resolve_mapping(headers, mapping=None):
    """{column index: field} from the file's headers and an optional {header: field or None}."""
    mapping = {header_key(k): v for k, v in (mapping or {}).items()}
    columns, ignored, errors = {}, [], {}
    for index, header in enumerate(headers):
        key = header_key(header)
        field = mapping[key] if key in mapping else _KNOWN.get(key)
        if field is None:
            if header:
                ignored.append(header)
            continue
        if field not in HEADERS:
            errors[header] = [f"'{field}' is not a customer field"]
        elif field in columns.values():
            errors[header] = [f"a second column for {field}"]
        else:
            columns[index] = field
    if "name" not in columns.values():
        errors["name"] = ["no column for the customer name (e.g. 客户名称 or name)"]
    if errors:
        raise InvalidInput("the columns cannot be mapped: " + "; ".join(f"{k}: {v[0]}" for k, v in errors.items()),
                           errors)
    return columns, ignored


class _Row:
    __slots__ = ("number", "cells", "values", "errors", "warnings", "key", "match", "action", "choices")

    def __init__(self, number, cells):
        self.number, self.cells = number, cells
        self.values, self.errors, self.warnings = {}, [], []
        self.key = self.match = self.action = None
        self.choices = ()


def import_customers(engine, file, mapping=None, mode="create", key=None, dry_run=False, actor=None,
                     file_name=None, progress=None, in_reach=None, holder_problem=None, landing=None,
                     landing_problem=None) -> dict:
    """Import a .xlsx or .csv file of customers. Returns the report (see README, "Importing customers").

    mode: create (create-only) / upsert (create-or-update by `key`) / update (update-only by `key`);
    key: credit_code, name (normalised company name) or phone. `progress(done, total)` is called as
    rows are checked and written. The importer's reach (engine/access.py, handed in by the caller):
    `in_reach(customer)`: customers out of it are neither updated nor named (by name or phone they read as
    absent; a credit code, unique, is refused without saying whose it is); `holder_problem(owner, team,
    owner_groups)`: why a row may not give a customer to that owner and team, or None; `landing(owner,
    owner_groups)`: the team a row without one lands in, as (team, choices) (access.landing_team): with
    choices the row is refused naming the team column (`landing_problem(choices)` the words). A row
    without owner lands in its team's public pool.

    This runs in the caller's thread, all rows in one transaction; customers/import_jobs.py runs the same
    steps in the background, a transaction per chunk."""
    prepared = prepare(file, file_name, mapping, mode, key)
    check(engine, prepared, progress, in_reach, holder_problem, landing=landing, landing_problem=landing_problem)
    report = report_of(prepared, dry_run)
    if not dry_run:
        report["batch_id"] = _write(engine, prepared.rows, report, actor, progress, len(prepared.rows))
    return report


def checked_mode(mode):
    if mode not in MODES:
        raise InvalidInput(f"unknown import mode '{mode}'", {"mode": ["create, upsert or update"]})
    return MODES[mode]


def checked_key(key, columns):
    """The key rows are matched by: the one asked for, else credit_code when the file has it, else name."""
    key = key or ("credit_code" if "credit_code" in columns.values() else "name")
    if key not in KEYS:
        raise InvalidInput(f"unknown import key '{key}'", {"key": [f"one of {', '.join(KEYS)}"]})
    if key not in columns.values():
        raise InvalidInput(f"the file has no column for the key '{key}'", {"key": ["no such column"]})
    return key


class Prepared:
    """A file read and mapped: its rows, not yet checked."""
    __slots__ = ("name", "headers", "rows", "columns", "ignored", "field_header", "mode", "key")

    def __init__(self, name, headers, rows, columns, ignored, mode, key):
        self.name, self.headers, self.rows, self.columns, self.ignored = name, headers, rows, columns, ignored
        self.field_header = {f: headers[i] for i, f in columns.items()}
        self.mode, self.key = mode, key


def prepare(file, file_name=None, mapping=None, mode="create", key=None) -> Prepared:
    mode = checked_mode(mode)
    name, headers, body = read_table(file, file_name)
    columns, ignored = resolve_mapping(headers, mapping)
    key = checked_key(key, columns)
    return Prepared(name, headers, [_Row(n, cells) for n, cells in body], columns, ignored, mode, key)


def check(engine, prepared, progress=None, in_reach=None, holder_problem=None, own_batch=None, landing=None,
          landing_problem=None):
    """Check every row (fields, owners, duplicates in the file and against the database), within the
    importer's reach (see `import_customers`). `own_batch`:
    the customers that batch created read as absent (a background import resuming after a crash checks
    its rows as it did the first time)."""
    with engine.db.connect() as conn:
        _check_rows(conn, prepared.rows, prepared.columns, prepared.field_header, prepared.mode, prepared.key,
                    progress, len(prepared.rows), in_reach, holder_problem, own_batch, landing, landing_problem)


def report_of(prepared, dry_run) -> dict:
    rows = prepared.rows
    bad = [r for r in rows if r.errors]
    return {
        "batch_id": None, "dry_run": dry_run, "file_name": prepared.name, "mode": prepared.mode,
        "key": prepared.key, "total_rows": len(rows),
        "created": sum(1 for r in rows if not r.errors and r.action == "create"),
        "updated": sum(1 for r in rows if not r.errors and r.action == "update"),
        "unchanged": sum(1 for r in rows if not r.errors and r.action == "unchanged"),
        "failed": len(bad), "ignored_columns": prepared.ignored,
        "errors": [e for r in bad for e in r.errors],
        "warnings": [w for r in rows for w in r.warnings],
        "error_rows": {"headers": prepared.headers, "rows": [[r.number, *[_cell(c) for c in r.cells],
                                                              "; ".join(f"{e['column']}: {e['reason']}"
                                                                        for e in r.errors)] for r in bad]},
    }


SUMMARY = ("total_rows", "created", "updated", "unchanged", "failed")
KEPT_DETAILS = 200  # errors and warnings kept on the batch (all of the bad rows are in its error file)


def kept_details(report) -> dict:
    """What a batch keeps of its report for its page: the first errors and warnings, the ignored columns."""
    return {"errors": report["errors"][:KEPT_DETAILS], "warnings": report["warnings"][:KEPT_DETAILS],
            "ignored_columns": report["ignored_columns"]}


def _cell(value):
    return "" if value is None else json_value(value)


def _check_rows(conn, rows, columns, field_header, mode, key, progress, total, in_reach=None, holder_problem=None,
                own_batch=None, landing=None, landing_problem=None):
    vocab = Vocabularies(conn)
    converters = spec(vocab)
    owners = user_info(conn, {str(r.cells[i]).strip() for r in rows for i, f in columns.items()
                              if f == "owner" and fields.present(r.cells[i])})
    for done, row in enumerate(rows, start=1):
        data = {f: row.cells[i] for i, f in columns.items()}
        present = {f for f, v in data.items() if fields.present(v)}
        values, errors = fields.clean(converters, data)
        check_owner(conn, values, errors, known=owners)
        if landing is not None and not values.get("team") and not errors.get("owner") and "team" not in present:
            info = owners.get(values.get("owner")) or {}
            values["team"], row.choices = landing(values.get("owner"), frozenset(info.get("groups", ())))
        if holder_problem is not None and not errors.get("owner"):
            info = owners.get(values.get("owner")) or {}
            problem = holder_problem(values.get("owner"), values.get("team"), frozenset(info.get("groups", ())))
            if problem:
                errors.setdefault("owner" if values.get("owner") else "team", []).append(problem)
        for field, reasons in errors.items():
            for reason in reasons:
                row.errors.append({"row": row.number, "column": field_header.get(field, field), "field": field,
                                   "reason": reason, "value": _cell(data.get(field))})
        values["name_key"] = name_key_for(values) if values.get("name") else None
        # An update changes only the cells that are filled in; a create takes the defaults too.
        row.values = {"create": values, "present": {f: values[f] for f in present if f in values}}
        row.key = values.get("name_key") if key == "name" else values.get(key)
        if progress and done % CHUNK == 0:
            progress(done, total)
    _in_file_duplicates(rows, key, field_header)
    _against_database(conn, rows, key, mode, field_header, in_reach, own_batch)
    for row in rows:  # a new customer must land in a team; an update keeps the customer's
        if row.choices and not row.errors and row.action == "create":
            words = landing_problem(row.choices) if landing_problem else ", ".join(row.choices)
            _error(row, field_header, "team", f"{words} in the column {field_header.get('team', '所属团队 (team)')}")
    if progress:
        progress(total, total)


def _error(row, field_header, field, reason, **extra):
    row.errors.append({"row": row.number, "column": field_header.get(field, field), "field": field,
                       "reason": reason, "value": _cell(row.values["create"].get(field)), **extra})


def _in_file_duplicates(rows, key, field_header):
    seen = {"key": {}, "credit_code": {}, "name_key": {}, "phone": {}}
    for row in rows:
        if row.errors:
            continue
        values = row.values["create"]
        if row.key:
            first = seen["key"].setdefault(row.key, row.number)
            if first != row.number:
                _error(row, field_header, key, f"same {key} as row {first} in this file", duplicate_of_row=first)
                continue
        code = values.get("credit_code")
        if code and key != "credit_code":
            first = seen["credit_code"].setdefault(code, row.number)
            if first != row.number:
                _error(row, field_header, "credit_code", f"same credit code as row {first} in this file",
                       duplicate_of_row=first)
                continue
        for field, label in (("name_key", "name"), ("phone", "phone")):
            value = values.get(field) if field != "name_key" or values.get("kind") == "company" else None
            if value and field != ("name_key" if key == "name" else key):
                first = seen[field].setdefault(value, row.number)
                if first != row.number:
                    row.warnings.append({"row": row.number, "column": field_header.get(label, label), "field": label,
                                         "reason": f"same {label} as row {first} in this file", "candidates": []})


def _lookup(conn, column, values, own_batch=None):
    """{value: [(id, name, credit_code), ...]} for the customers whose `column` is among `values` (but
    those batch `own_batch` created)."""
    found = defaultdict(list)
    values = sorted({v for v in values if v})
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        query = sa.select(customers.c.id, customers.c.name, customers.c.credit_code, customers.c.owner,
                          customers.c.team, column).where(column.in_(chunk))
        if own_batch is not None:
            query = query.where(sa.or_(customers.c.import_batch_id.is_(None),
                                       customers.c.import_batch_id != own_batch))
        for r in conn.execute(query):
            found[r[5]].append({"id": r.id, "name": r.name, "owner": r.owner, "team": r.team})
    return found


def _against_database(conn, rows, key, mode, field_header, in_reach=None, own_batch=None):
    ok = [r for r in rows if not r.errors]
    by_key = _lookup(conn, customers.c.name_key if key == "name" else customers.c[key], [r.key for r in ok],
                     own_batch)
    by_code = _lookup(conn, customers.c.credit_code, [r.values["create"].get("credit_code") for r in ok], own_batch)
    by_name = _lookup(conn, customers.c.name_key, [r.values["create"].get("name_key") for r in ok], own_batch)
    by_phone = _lookup(conn, customers.c.phone, [r.values["create"].get("phone") for r in ok], own_batch)
    if in_reach is not None:  # another team's customers are not the importer's to update, nor to see
        foreign = {c["id"] for found in (by_key, by_code, by_name, by_phone) for cs in found.values() for c in cs
                   if not in_reach(c)}
        if key != "credit_code":
            by_key = _without(by_key, foreign)
        by_name, by_phone = _without(by_name, foreign), _without(by_phone, foreign)
    else:
        foreign = set()
    for row in ok:
        values = row.values["create"]
        matches = by_key.get(row.key, []) if row.key else []
        if any(m["id"] in foreign for m in matches):
            _error(row, field_header, key, "the credit code is held by a customer out of your reach; "
                                           "ask an admin")
            continue
        if len(matches) > 1:
            ids = ", ".join(str(m["id"]) for m in matches)
            _error(row, field_header, key, f"ambiguous: customers {ids} share this {key}", candidates=matches)
            continue
        match = matches[0] if matches else None
        if match and mode == "create":
            _error(row, field_header, key, f"exists already as customer {match['id']} '{match['name']}'",
                   existing_id=match["id"])
            continue
        if not match and mode == "update":
            _error(row, field_header, key, f"no customer has this {key}" if row.key else f"the {key} is empty")
            continue
        code = values.get("credit_code")
        holder = next((h for h in by_code.get(code, []) if not match or h["id"] != match["id"]), None) if code else None
        if holder and holder["id"] in foreign:
            _error(row, field_header, "credit_code", "the credit code is held by a customer out of your reach; "
                                                     "ask an admin")
            continue
        if holder:
            _error(row, field_header, "credit_code",
                   f"customer {holder['id']} '{holder['name']}' already has this credit code", existing_id=holder["id"])
            continue
        row.match = match["id"] if match else None
        row.action = "update" if match else "create"
        for field, found, value in (("name", by_name, values.get("name_key") if values.get("kind") == "company" else None),
                                    ("phone", by_phone, values.get("phone"))):
            others = [c for c in found.get(value, []) if c["id"] != row.match] if value else []
            if others and (field != key or not match):
                row.warnings.append({"row": row.number, "column": field_header.get(field, field), "field": field,
                                     "reason": f"a customer with the same {field} exists", "candidates": others})


def _without(found, ids):
    return {value: [c for c in candidates if c["id"] not in ids] for value, candidates in found.items()}


def _write(engine, rows, report, actor, progress, total):
    now = clock.now()
    good = [r for r in rows if not r.errors]
    summary = {k: report[k] for k in SUMMARY}
    try:
        with engine.db.begin() as conn:
            batch_id = conn.execute(import_batches.insert().values(
                at=now, actor=actor, file_name=report["file_name"], mode=report["mode"], key=report["key"],
                status="applied", summary=summary, error_rows=report["error_rows"], details=kept_details(report),
                total_rows=total,
                rows_checked=total, rows_done=total, finished_at=now).returning(import_batches.c.id)
            ).scalar_one()
            creates = [r for r in good if r.action == "create"]
            for start in range(0, len(creates), CHUNK):
                _create_chunk(conn, creates[start:start + CHUNK], batch_id, actor, now)
                if progress:
                    progress(start + len(creates[start:start + CHUNK]), total)
            unchanged = 0
            for row in (r for r in good if r.action == "update"):
                unchanged += not _update_one(conn, row, batch_id, actor, now)
            summary.update(updated=summary["updated"] - unchanged, unchanged=unchanged)
            conn.execute(import_batches.update().where(import_batches.c.id == batch_id).values(summary=summary))
    except sa.exc.IntegrityError as err:
        raise Conflict("another change created one of these customers while importing; run the import again "
                       f"({err.orig})") from None
    report.update(updated=summary["updated"], unchanged=summary["unchanged"])
    if progress:
        progress(total, total)
    return batch_id


def write_rows(conn, rows, batch_id, actor, now) -> dict:
    """Write the good ones of `rows` (a slice of the file) for batch `batch_id` on `conn`: the creates at
    once, then the updates. Returns what they did: {created, updated, unchanged}."""
    creates = [r for r in rows if not r.errors and r.action == "create"]
    if creates:
        _create_chunk(conn, creates, batch_id, actor, now)
    updated = unchanged = 0
    for row in (r for r in rows if not r.errors and r.action == "update"):
        if _update_one(conn, row, batch_id, actor, now):
            updated += 1
        else:
            unchanged += 1
    return {"created": len(creates), "updated": updated, "unchanged": unchanged}


def _create_chunk(conn, chunk, batch_id, actor, now):
    params = []
    for row in chunk:
        values = dict(row.values["create"])
        params.append({**values, "in_pool": not values.get("owner"), "owner_since": now if values.get("owner") else None,
                       "import_batch_id": batch_id, "created_at": now, "created_by": actor, "updated_at": now})
    fresh = fresh_customer_ids(conn, len(params))
    if fresh:  # never an id a reverted import's customer had (SQLite would hand it out again)
        params = [{**p, "id": i} for p, i in zip(params, fresh)]
    ids = conn.execute(customers.insert().returning(customers.c.id, sort_by_parameter_order=True), params).scalars().all()
    changes, owned, audits = [], [], []
    for new_id, row, values in zip(ids, chunk, params):
        logged = {k: v for k, v in row.values["create"].items() if k != "name_key"}
        changes.append(dict(entity="customer", entity_id=new_id, customer_id=new_id, action="created", at=now,
                            actor=actor, changes=diff({}, logged), batch_id=batch_id))
        if values.get("owner"):
            change, audit = ownership_rows(new_id, None, values["owner"], actor, "assigned", now,
                                           note=f"import {batch_id}")
            owned.append(change)
            audits.append(audit)
    conn.execute(record_changes.insert(), changes)
    if owned:
        conn.execute(ownership_changes.insert(), owned)
        conn.execute(audit_events.insert(), audits)


def _update_one(conn, row, batch_id, actor, now):
    current = conn.execute(sa.select(customers).where(customers.c.id == row.match).with_for_update()).one()
    before = dict(current._mapping)
    values = {k: v for k, v in row.values["present"].items() if k in EDITABLE}
    if "name" in values:
        values["name_key"] = row.values["create"]["name_key"]
    changes = diff(before, values)
    changes.pop("name_key", None)
    owner = row.values["present"].get("owner")
    if owner and owner != current.owner:
        changes["owner"] = [current.owner, owner]
    if not changes:
        return False
    conn.execute(customers.update().where(customers.c.id == row.match).values(**values, updated_at=now))
    log_change(conn, "customer", row.match, row.match, "updated", actor, changes, now, batch_id=batch_id)
    if "owner" in changes:
        set_owner(conn, row.match, current.owner, owner, actor, "assigned", now, note=f"import {batch_id}")
    return True


def error_file(report_or_rows) -> bytes:
    """The bad rows as CSV: row number, the original cells, the reasons. Fix them and import this file."""
    rows = report_or_rows.get("error_rows", report_or_rows)
    return write_csv(["行号 row", *rows["headers"], "错误 errors"], rows["rows"])


def import_error_file(engine, batch_id, actors=None) -> bytes:
    batch = get_batch(engine, batch_id, actors)
    if batch["status"] in UNFINISHED:
        raise Conflict(f"import {batch_id} is still {batch['status']}: its error file is ready when it has ended",
                       batch_id=batch_id, status=batch["status"])
    if not batch["error_rows"]:
        raise Conflict(f"import {batch_id} stopped before its rows were checked, so it has no error file: "
                       f"{batch['error']}", batch_id=batch_id, status=batch["status"])
    return error_file(batch["error_rows"])


def get_batch(engine, batch_id, actors=None) -> dict:
    """`actors`: the importers whose batches the caller reaches (None: all); another's reads as missing."""
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(import_batches).where(import_batches.c.id == batch_id)).first()
        if row is None or (actors is not None and row.actor not in actors):
            raise NotFound(f"no import batch {batch_id}")
        return dict(row._mapping)


UNFINISHED = ("queued", "running")  # then: applied, checked, failed, cancelled, reverted
DONE = ("applied", "checked", "reverted")  # a dry run run in the background ends `checked`


def batch_view(batch: dict, details=False) -> dict:
    """A batch as it is shown and polled: its status, `rows_checked` and `rows_done` (rows written or set
    aside; a dry run's checked) of `total_rows` (None until a background job has read the file), a
    `percent` (checking counts for the first half of a real import, writing for the second), the
    `summary` ({total_rows, created, updated, unchanged, failed}; so far, while it runs), the `error` of a
    failed one. `details`: also the first errors and warnings and the ignored columns."""
    summary = batch.get("summary") or {}
    total = batch.get("total_rows")
    if total is None and batch["status"] not in UNFINISHED:
        total = summary.get("total_rows")  # a batch imported before 0011
    checked, done = batch.get("rows_checked") or 0, batch.get("rows_done") or 0
    if batch["status"] in DONE:
        checked = done = total or 0
        percent = 100
    elif not total:
        percent = 0
    elif batch.get("dry_run"):
        percent = 100 * checked // total
    else:
        percent = 100 * (checked + done) // (2 * total)
    view = {k: batch.get(k) for k in ("id", "at", "actor", "file_name", "mode", "key", "status", "error",
                                       "finished_at", "reverted_at", "reverted_by")}
    view.update(dry_run=bool(batch.get("dry_run")), total_rows=total, rows_checked=checked, rows_done=done,
                percent=percent, summary=summary)
    if details:
        view.update({"errors": [], "warnings": [], "ignored_columns": [], **(batch.get("details") or {})})
    return view


_LISTED = [import_batches.c[name] for name in (
    "id", "at", "actor", "file_name", "mode", "key", "status", "summary", "reverted_at", "reverted_by", "dry_run",
    "total_rows", "rows_checked", "rows_done", "error", "finished_at")]


def list_batches(engine, page=1, page_size=50, actors=None):
    base = sa.select(*_LISTED)
    if actors is not None:
        base = base.where(import_batches.c.actor.in_(sorted(actors)))
    with engine.db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(import_batches.c.id.desc()).offset((page - 1) * page_size).limit(page_size))
        return [batch_view(dict(r._mapping)) for r in rows], total


_DEPENDENTS = (contacts, opportunities, contracts, payments, tickets, checkins, interactions, leads)


def revert_import(engine, batch_id, actor=None, actors=None) -> dict:
    """Undo one import as a whole: created customers are deleted, updated ones get their old values back.
    Refused (Conflict naming the customers) when any of them was changed or used since. `actors`: as
    `get_batch`."""
    now = clock.now()
    with engine.db.begin() as conn:
        batch = conn.execute(sa.select(import_batches).where(import_batches.c.id == batch_id).with_for_update()).first()
        if batch is None or (actors is not None and batch.actor not in actors):
            raise NotFound(f"no import batch {batch_id}")
        if batch.status in UNFINISHED:
            done = f"{batch.rows_done:,} of {batch.total_rows:,} rows written" if batch.total_rows else "not started"
            raise Conflict(f"import {batch_id} is still {batch.status} ({done}): revert it once it has ended",
                           batch_id=batch_id, status=batch.status)
        if batch.status == "checked" or batch.dry_run:
            raise Conflict(f"import {batch_id} was a dry run: it wrote nothing to revert")
        if batch.status == "reverted":
            raise Conflict(f"import {batch_id} was already reverted by {batch.reverted_by} at {batch.reverted_at}")
        # applied, or failed part of the way through: what it wrote goes
        logged = conn.execute(sa.select(record_changes).where(record_changes.c.batch_id == batch_id)
                              .order_by(record_changes.c.id)).all()
        ids = [r.entity_id for r in logged]
        last_batch_change = max((r.id for r in logged), default=0)
        later = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            later |= {r.entity_id for r in conn.execute(sa.select(record_changes.c.entity_id).where(
                record_changes.c.entity == "customer", record_changes.c.entity_id.in_(chunk),
                record_changes.c.id > last_batch_change))}
            later |= {r.customer_id for r in conn.execute(sa.select(ownership_changes.c.customer_id).where(
                ownership_changes.c.customer_id.in_(chunk), ownership_changes.c.at > batch.at,
                sa.or_(ownership_changes.c.note.is_(None), ownership_changes.c.note != f"import {batch_id}")))}
            created = [r.entity_id for r in logged[start:start + CHUNK] if r.action == "created"]
            for table in _DEPENDENTS:
                later |= {r.customer_id for r in conn.execute(
                    sa.select(table.c.customer_id).where(table.c.customer_id.in_(created)).distinct())}
        if later:
            shown = ", ".join(str(i) for i in sorted(later)[:20]) + (" ..." if len(later) > 20 else "")
            raise Conflict(f"import {batch_id} cannot be reverted: customers {shown} were changed or used since",
                           customer_ids=sorted(later))
        deleted = restored = 0
        created = [r.entity_id for r in logged if r.action == "created"]
        for start in range(0, len(created), CHUNK):
            chunk = created[start:start + CHUNK]
            conn.execute(ownership_changes.delete().where(ownership_changes.c.customer_id.in_(chunk)))
            deleted += conn.execute(customers.delete().where(customers.c.id.in_(chunk))).rowcount
            for customer_id in chunk:  # the revert is part of each customer's history
                log_change(conn, "customer", customer_id, customer_id, "deleted", actor,
                           {"import_batch_id": [batch_id, None]}, now, batch_id=batch_id)
        for change in (r for r in logged if r.action == "updated"):
            old = {k: v[0] for k, v in change.changes.items()}
            owner = old.pop("owner", None) if "owner" in old else None
            if "name" in old:
                old["name_key"] = name_key_for(old)
            if old:
                conn.execute(customers.update().where(customers.c.id == change.entity_id).values(**old, updated_at=now))
            if "owner" in change.changes:
                set_owner(conn, change.entity_id, change.changes["owner"][1], owner, actor, "moved", now,
                          note=f"import {batch_id} reverted")
            log_change(conn, "customer", change.entity_id, change.entity_id, "reverted", actor,
                       {k: [v[1], v[0]] for k, v in change.changes.items()}, now, batch_id=batch_id)
            restored += 1
        conn.execute(import_batches.update().where(import_batches.c.id == batch_id)
                     .values(status="reverted", reverted_at=now, reverted_by=actor))
        return {"batch_id": batch_id, "deleted": deleted, "restored": restored}
