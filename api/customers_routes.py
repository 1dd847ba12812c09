"""The customer data hub over HTTP: customers and their records, check-ins, the public pool, imports
and the timeline. Bodies are the engine's record dicts as JSON (see README, "Customer records").

Reach: admins see everything; everyone else sees the records they own or that belong to one of their
groups (teams); out of reach reads as 404. Roles outside `SEES_AMOUNTS` get money fields as null, named
in `hidden_fields`."""
from flask import Response, request

from engine import access
from engine.customers import checkins as ck
from engine.customers import customers as cu
from engine.customers import files, importer, interactions, ownership, pool, records
from engine.customers import settings as hub_settings
from engine.customers.timeline import timeline as customer_timeline_of
from engine.customers import vocab
from engine.customers.common import history, json_value
from engine.errors import Forbidden, InvalidInput, NotFound

from .services import current_user, services
from .routes.common import Blueprint, paged

SEES_AMOUNTS = {"admin", "supervisor"}
MONEY = {"opportunity": ("amount",), "contract": ("amount",), "payment": ("amount",)}
MANAGES = {"admin", "supervisor"}
KINDS = {"contacts": "contact", "leads": "lead", "opportunities": "opportunity", "contracts": "contract",
         "payments": "payment", "tickets": "ticket"}

customers_blp = Blueprint("customers", __name__, url_prefix="/api", description="Customers and their records")
pool_blp = Blueprint("pool", __name__, url_prefix="/api/pool", description="The public pool (公海)")
checkins_blp = Blueprint("checkins", __name__, url_prefix="/api/checkins", description="Check-ins (打卡)")
imports_blp = Blueprint("imports", __name__, url_prefix="/api/imports", description="Customer imports")
blueprints = [customers_blp, pool_blp, checkins_blp, imports_blp]


def _engine():
    return services().engine


def _body():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", {"body": ["not a JSON object"]})
    return data


def _page():
    try:
        page = max(1, int(request.args.get("page", 1)))
        size = max(1, min(500, int(request.args.get("page_size", 50))))
    except ValueError:
        raise InvalidInput("page and page_size are numbers", {"page": ["not a number"]}) from None
    return page, size


def _in_reach(user, record):
    return user.role == "admin" or record.get("owner") == user.name or (record.get("team") in user.groups)


def _scope(user):
    return {} if user.role == "admin" else {"owners": [user.name], "teams": sorted(user.groups)}


def _shown(kind, record, user):
    out = json_value(record)
    hidden = [f for f in MONEY.get(kind, ()) if f in out] if user.role not in SEES_AMOUNTS else []
    for name in hidden:
        out[name] = None
    if hidden:
        out["hidden_fields"] = hidden
    out.pop("name_key", None)
    return out


def _customer(customer_id):
    user = current_user()
    customer = cu.get_customer(_engine(), customer_id)
    if not _in_reach(user, customer):
        if customer["in_pool"]:
            return pool.masked(customer)
        raise NotFound(f"no customer with id {customer_id}")
    return customer


def _require_admin():
    access.require(current_user(), access.USER_MANAGE)


# ---- customers ---------------------------------------------------------------------------------
@customers_blp.route("/customers", methods=["GET"])
def list_customers():
    """Customers in reach, newest first; `q` searches names (normalised) and credit codes."""
    user = current_user()
    page, size = _page()
    items, total = cu.list_customers(_engine(), page, size, status=request.args.get("status"),
                                     level=request.args.get("level"), query=request.args.get("q"),
                                     owner=request.args.get("owner"), **_scope(user))
    return paged([_shown("customer", c, user) for c in items], total, page, size)


@customers_blp.route("/customers", methods=["POST"])
def create_customer():
    """Create a customer. 409 when its credit code is taken (naming the holder); same name or phone: 201
    with `warnings` listing the candidates."""
    user = current_user()
    data = _body()
    if user.role not in MANAGES:
        data.setdefault("owner", user.name)
    customer, warnings = cu.create_customer(_engine(), data, actor=user.name)
    return {"customer": _shown("customer", customer, user), "warnings": json_value(warnings)}, 201


@customers_blp.route("/customers/<int:customer_id>", methods=["GET"])
def get_customer(customer_id):
    return _shown("customer", _customer(customer_id), current_user())


@customers_blp.route("/customers/<int:customer_id>", methods=["PATCH"])
def update_customer(customer_id):
    user = current_user()
    if not _in_reach(user, cu.get_customer(_engine(), customer_id)):
        raise NotFound(f"no customer with id {customer_id}")
    customer, warnings = cu.update_customer(_engine(), customer_id, _body(), actor=user.name)
    return {"customer": _shown("customer", customer, user), "warnings": json_value(warnings)}


@customers_blp.route("/customers/<int:customer_id>/history", methods=["GET"])
def customer_history(customer_id):
    _customer_owned(customer_id)
    page, size = _page()
    items, total = history(_engine(), "customer", customer_id, page, size)
    return paged(json_value(items), total, page, size)


def _customer_owned(customer_id):
    customer = cu.get_customer(_engine(), customer_id)
    if not _in_reach(current_user(), customer):
        raise NotFound(f"no customer with id {customer_id}")
    return customer


@customers_blp.route("/customers/<int:customer_id>/timeline", methods=["GET"])
def customer_timeline(customer_id):
    """Everything that happened with the customer, newest first."""
    _customer_owned(customer_id)
    page, size = _page()
    items, total = customer_timeline_of(_engine(), customer_id, page, size)
    return paged(json_value(items), total, page, size)


@customers_blp.route("/customers/<int:customer_id>/interactions", methods=["POST"])
def add_interaction(customer_id):
    """Log a call, visit, meeting or message: it counts as follow-up."""
    _customer_owned(customer_id)
    data = _body()
    new_id = interactions.record_interaction(_engine(), customer_id, data.get("kind"), current_user().name,
                                             data.get("note"))
    return {"id": new_id}, 201


@customers_blp.route("/customers/<int:customer_id>/transfer", methods=["POST"])
def move_customer(customer_id):
    """A supervisor or admin moves a customer to another owner (`owner: null` releases it to the pool)."""
    user = current_user()
    if user.role not in MANAGES:
        raise Forbidden(f"a {user.role} may not move customers")
    _customer_owned(customer_id)
    data = _body()
    ownership.transfer(_engine(), customer_id, data.get("owner"), user.name, note=data.get("note"))
    return _shown("customer", cu.get_customer(_engine(), customer_id), user)


# ---- records around customers ------------------------------------------------------------------
def _kind(collection):
    if collection not in KINDS:
        raise NotFound(f"no collection /api/{collection}")
    return KINDS[collection]


@customers_blp.route("/<any(contacts, leads, opportunities, contracts, payments, tickets):collection>",
                     methods=["GET"])
def list_records(collection):
    kind, user = _kind(collection), current_user()
    page, size = _page()
    customer_id = request.args.get("customer_id", type=int)
    items, total = records.list_records(_engine(), kind, customer_id, page, size, **_scope(user))
    return paged([_shown(kind, r, user) for r in items], total, page, size)


@customers_blp.route("/<any(contacts, leads, opportunities, contracts, payments, tickets):collection>",
                     methods=["POST"])
def create_record(collection):
    kind, user = _kind(collection), current_user()
    data = _body()
    if data.get("customer_id") is not None:
        _customer_owned(int(data["customer_id"]))
    elif kind == "payment" and data.get("contract_id") is not None:
        _record_in_reach("contract", int(data["contract_id"]))
    elif kind == "lead" and user.role not in MANAGES:
        data.setdefault("owner", user.name)
    return _shown(kind, records.create_record(_engine(), kind, data, actor=user.name), user), 201


def _record_in_reach(kind, record_id):
    record = records.get_record(_engine(), kind, record_id)
    if not _in_reach(current_user(), record):
        raise NotFound(f"no {kind} with id {record_id}")
    return record


@customers_blp.route("/<any(contacts, leads, opportunities, contracts, payments, tickets):collection>/<int:record_id>",
                     methods=["GET"])
def get_record(collection, record_id):
    kind = _kind(collection)
    return _shown(kind, _record_in_reach(kind, record_id), current_user())


@customers_blp.route("/<any(contacts, leads, opportunities, contracts, payments, tickets):collection>/<int:record_id>",
                     methods=["PATCH"])
def update_record(collection, record_id):
    kind, user = _kind(collection), current_user()
    _record_in_reach(kind, record_id)
    data = _body()
    for name in MONEY.get(kind, ()):
        if name in data and user.role not in SEES_AMOUNTS:
            raise Forbidden(f"a {user.role} may not change {kind} amounts")
    return _shown(kind, records.update_record(_engine(), kind, record_id, data, actor=user.name), user)


@customers_blp.route("/leads/<int:lead_id>/convert", methods=["POST"])
def convert_lead(lead_id):
    user = current_user()
    _record_in_reach("lead", lead_id)
    customer, warnings = records.convert_lead(_engine(), lead_id, user.name, request.get_json(silent=True) or None)
    return {"customer": _shown("customer", customer, user), "warnings": json_value(warnings)}, 201


@customers_blp.route("/vocabularies", methods=["GET"])
def list_vocabularies():
    return {"items": json_value(vocab.list_terms(_engine(), request.args.get("vocabulary")))}


@customers_blp.route("/vocabularies/<vocabulary>", methods=["POST"])
def add_term(vocabulary):
    _require_admin()
    data = _body()
    vocab.add_term(_engine(), vocabulary, data.get("code"), data.get("label"), data.get("parent_code"),
                   data.get("position", 0), data.get("attrs"))
    return {"vocabulary": vocabulary, "code": data.get("code")}, 201


@customers_blp.route("/vocabularies/<vocabulary>/<code>", methods=["PATCH"])
def update_term(vocabulary, code):
    _require_admin()
    vocab.update_term(_engine(), vocabulary, code, **_body())
    return {"vocabulary": vocabulary, "code": code}


@customers_blp.route("/customer-settings", methods=["GET"])
def get_hub_settings():
    with _engine().db.connect() as conn:
        return hub_settings.get_settings(conn)


@customers_blp.route("/customer-settings/<key>", methods=["POST"])
def put_hub_setting(key):
    _require_admin()
    return {key: hub_settings.set_setting(_engine(), key, _body().get("value"), current_user().name)}


# ---- pool ----------------------------------------------------------------------------------------
@pool_blp.route("", methods=["GET"])
def list_pool():
    """The pool of the caller's teams; phones and e-mails masked until claimed."""
    page, size = _page()
    items, total = pool.list_pool(_engine(), current_user().name, page, size)
    return paged([_shown("customer", c, current_user()) for c in items], total, page, size)


@pool_blp.route("/<int:customer_id>/claim", methods=["POST"])
def claim(customer_id):
    """Take a customer from the pool: 403 past a limit, 409 when someone else was faster."""
    return _shown("customer", pool.claim(_engine(), customer_id, current_user().name), current_user())


# ---- check-ins -----------------------------------------------------------------------------------
@checkins_blp.route("/templates", methods=["GET"])
def list_templates():
    return {"items": json_value(ck.list_templates(_engine()))}


@checkins_blp.route("/templates/<scenario>", methods=["POST"])
def define_template(scenario):
    """A new version of the scenario's template (admins)."""
    _require_admin()
    data = _body()
    return json_value(ck.define_template(_engine(), scenario, data.get("name"), data.get("fields"),
                                         current_user().name)), 201


@checkins_blp.route("/templates/<scenario>", methods=["GET"])
def get_template(scenario):
    return json_value(ck.get_template(_engine(), scenario, request.args.get("version", type=int)))


@checkins_blp.route("/files", methods=["POST"])
def upload_file():
    """Upload a photo or signature (multipart field `file`); put the returned id in the check-in."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("send the image as the multipart field 'file'", {"file": ["missing"]})
    return files.store_file(_engine(), upload.read(), current_user().name), 201


@checkins_blp.route("", methods=["POST"])
def create_checkin():
    data = _body()
    customer_id = data.get("customer_id")
    if not isinstance(customer_id, int):
        raise InvalidInput("customer_id is required", {"customer_id": ["required"]})
    _customer_owned(customer_id)
    return json_value(ck.create_checkin(_engine(), data.get("scenario"), customer_id, current_user().name,
                                        data.get("values") or {}, data.get("template_version"))), 201


@checkins_blp.route("", methods=["GET"])
def list_checkins():
    user = current_user()
    customer_id = request.args.get("customer_id", type=int)
    if customer_id is not None:
        _customer_owned(customer_id)
    page, size = _page()
    mine = None if customer_id is not None or user.role in MANAGES else user.name
    items, total = ck.list_checkins(_engine(), customer_id, mine, page, size)
    return paged(json_value(items), total, page, size)


# ---- imports -------------------------------------------------------------------------------------
def _importer():
    user = current_user()
    if user.role not in MANAGES:
        raise Forbidden(f"a {user.role} may not import customers")
    return user


@imports_blp.route("", methods=["POST"])
def start_import():
    """Multipart: `file` (.xlsx/.csv), `mode` (create/upsert/update), `key`, `dry_run` (true/false),
    `mapping` (JSON {header: field})."""
    import json

    user = _importer()
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("send the spreadsheet as the multipart field 'file'", {"file": ["missing"]})
    try:
        mapping = json.loads(request.form["mapping"]) if request.form.get("mapping") else None
    except ValueError:
        raise InvalidInput("mapping must be a JSON object", {"mapping": ["not JSON"]}) from None
    dry_run = request.form.get("dry_run", "false").lower() in ("1", "true", "yes")
    report = importer.import_customers(_engine(), upload.read(), mapping, request.form.get("mode", "create"),
                                       request.form.get("key") or None, dry_run, user.name, upload.filename)
    return json_value({k: v for k, v in report.items() if k != "error_rows"}), 200 if dry_run else 201


@imports_blp.route("", methods=["GET"])
def list_imports():
    _importer()
    page, size = _page()
    items, total = importer.list_batches(_engine(), page, size)
    return paged(json_value(items), total, page, size)


@imports_blp.route("/<int:batch_id>/errors.csv", methods=["GET"])
def import_errors(batch_id):
    """The bad rows with their reasons, as CSV to fix and import again."""
    _importer()
    return Response(importer.import_error_file(_engine(), batch_id), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=import-{batch_id}-errors.csv"})


@imports_blp.route("/<int:batch_id>/revert", methods=["POST"])
def revert_import(batch_id):
    return importer.revert_import(_engine(), batch_id, _importer().name)
