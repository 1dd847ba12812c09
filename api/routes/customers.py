"""The customer data hub over HTTP: customers and their records, check-ins, the public pool, imports
and the timeline. Bodies are the engine's record dicts as JSON (see README, "Customer records").

Reach: admins see everything; everyone else sees the records they own or that belong to one of their
groups (teams); out of reach reads as 404. Roles outside `access.SEES_AMOUNTS` get money fields as null,
named in `hidden_fields` (access.shown_record: the one field rule, also applied to variables)."""
import json

from flask import Response, current_app, request, url_for

from engine import access
from engine.customers import checkins as ck
from engine.customers import customers as cu
from engine.customers import files, importer, interactions, ownership, pool, records
from engine.customers import settings as hub_settings
from engine.customers.timeline import timeline as customer_timeline_of
from engine.customers import vocab
from engine.customers.common import history, json_value
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.sop.watch import health as health_of

from api.schemas import customers as s
from api.schemas.workflow import PageArgs
from api.services import current_user, services
from api.routes.common import Blueprint, paged

MANAGES = access.MANAGES_RECORDS

customers_blp = Blueprint("customers", __name__, url_prefix="/api", description="Customers and their records")
pool_blp = Blueprint("pool", __name__, url_prefix="/api/pool", description="The public pool (公海)")
checkins_blp = Blueprint("checkins", __name__, url_prefix="/api/checkins", description="Check-ins (打卡)")
imports_blp = Blueprint("imports", __name__, url_prefix="/api/imports", description="Customer imports")
blueprints = [customers_blp, pool_blp, checkins_blp, imports_blp]
MAX_ID = {"batch_id": 2**31 - 1}  # INTEGER; the other ids are BIGINT


def _engine():
    return services().engine


def _in_reach(user, record):
    return access.record_in_reach(user, record)


def _scope(user):
    return access.record_scope(user)


def _check_holder(data, default_owner=None):
    """The owner and team a body names must be within the caller's teams (engine/access.py): 422."""
    user = current_user()
    owner, team = data.get("owner", default_owner), data.get("team")
    if owner is None and team is None:
        return
    groups = services().identity.groups_of(owner) if owner and owner != user.name else user.groups
    problem = access.holder_problem(user, owner, team, groups)
    if problem:
        field = "team" if team and team not in user.groups and user.role != "admin" else "owner"
        raise InvalidInput(f"{problem}", {field: [problem]})


def _land(data, owner=None):
    """A create that names no team lands in one its creator can see (access.landing_team); 422 naming the
    choices when the creator is in several and the owner does not settle it."""
    if data.get("team"):
        return
    user = current_user()
    owner = data.get("owner", owner)
    groups = (services().identity.groups_of(owner) if owner and owner != user.name else user.groups) if owner \
        else frozenset()
    team, choices = access.landing_team(user, owner, groups)
    if choices:
        problem = access.landing_problem(user, choices)
        raise InvalidInput(problem, {"team": [problem]})
    if team:
        data["team"] = team


def _warnings(warnings, user):
    """Duplicate warnings name only the candidates in the caller's reach."""
    shown = []
    for warning in warnings:
        candidates = [c for c in warning.get("candidates", []) if access.record_in_reach(user, c)]
        shown.append({**warning, "candidates": [{k: v for k, v in c.items() if k != "team"} for c in candidates]})
    return json_value(shown)


def _shown(kind, record, user):
    out = access.shown_record(user, kind, json_value(record))
    out.pop("name_key", None)
    return out


def _customer(customer_id):
    user = current_user()
    customer = cu.get_customer(_engine(), customer_id)
    if not _in_reach(user, customer):
        if access.record_readable(user, customer, _engine().has_task_about(user, "customer", customer_id)):
            return customer  # a task about it was given to the user: read only (access.record_readable)
        if access.pool_in_reach(user, customer):
            return pool.masked(customer)
        raise NotFound(f"no customer with id {customer_id}")
    return customer


def _check_request():
    """An id in the path past its column's range names nothing: 404 (the database would refuse the query).
    A query parameter given twice is refused (422) rather than read as its first value."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID.get(name, 2**63 - 1):
            raise NotFound(f"no record with {name} {value}")
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise InvalidInput("a query parameter was given more than once", {name: ["given more than once"]
                                                                          for name in repeated})


for _blp in blueprints:
    _blp.before_request(_check_request)


def _require_admin():
    access.require(current_user(), access.USER_MANAGE)


# ---- customers ---------------------------------------------------------------------------------
@customers_blp.route("/customers", methods=["GET"])
@customers_blp.arguments(s.CustomerListArgs, location="query", as_kwargs=True)
@customers_blp.response(200, s.CustomerPageSchema)
@customers_blp.errors(401, 422)
def list_customers(page, page_size, **filters):
    """Customers in reach, newest first; `q` searches names (normalised) and credit codes."""
    user = current_user()
    items, total = cu.list_customers(_engine(), page, page_size, status=filters.get("status"),
                                     level=filters.get("level"), query=filters.get("q"),
                                     owner=filters.get("owner"), **_scope(user))
    return paged([_shown("customer", c, user) for c in items], total, page, page_size)


@customers_blp.route("/customers", methods=["POST"])
@customers_blp.arguments(s.CustomerCreateArgs)
@customers_blp.response(201, s.CustomerResultSchema)
@customers_blp.errors(401, 409, 422)
def create_customer(data):
    """Create a customer. 409 when its credit code is taken (naming the holder); same name or phone: 201
    with `warnings` listing the candidates."""
    user = current_user()
    if user.role not in MANAGES:
        data.setdefault("owner", user.name)
    _land(data)
    _check_holder(data)
    customer, warnings = cu.create_customer(_engine(), data, actor=user.name)
    return {"customer": _shown("customer", customer, user), "warnings": _warnings(warnings, user)}


@customers_blp.route("/customers/<int:customer_id>", methods=["GET"])
@customers_blp.response(200, s.CustomerDetailSchema)
@customers_blp.errors(401, 404)
def get_customer(customer_id):
    """One customer with its health score (null when never computed). A customer in a pool you may claim
    from shows with its contact details masked."""
    out = _shown("customer", _customer(customer_id), current_user())
    out["health"] = json_value(health_of(_engine(), customer_id))
    return out


@customers_blp.route("/customers/<int:customer_id>", methods=["PATCH"])
@customers_blp.arguments(s.CustomerUpdateArgs)
@customers_blp.response(200, s.CustomerResultSchema)
@customers_blp.errors(401, 404, 409, 422)
def update_customer(data, customer_id):
    """Change the given fields (owners change through `transfer`)."""
    user = current_user()
    _customer_owned(customer_id)
    _check_holder(data)
    customer, warnings = cu.update_customer(_engine(), customer_id, data, actor=user.name)
    return {"customer": _shown("customer", customer, user), "warnings": _warnings(warnings, user)}


def _customer_owned(customer_id):
    customer = cu.get_customer(_engine(), customer_id)
    if not _in_reach(current_user(), customer):
        raise NotFound(f"no customer with id {customer_id}")
    return customer


@customers_blp.route("/customers/<int:customer_id>/history", methods=["GET"])
@customers_blp.arguments(PageArgs, location="query", as_kwargs=True)
@customers_blp.response(200, s.ChangePageSchema)
@customers_blp.errors(401, 404, 422)
def customer_history(customer_id, page, page_size):
    """Every change of the customer's own fields, oldest first."""
    _customer_owned(customer_id)
    items, total = history(_engine(), "customer", customer_id, page, page_size)
    return paged(json_value(items), total, page, page_size)


@customers_blp.route("/customers/<int:customer_id>/timeline", methods=["GET"])
@customers_blp.arguments(PageArgs, location="query", as_kwargs=True)
@customers_blp.response(200, s.TimelinePageSchema)
@customers_blp.errors(401, 404, 422)
def customer_timeline(customer_id, page, page_size):
    """Everything that happened with the customer, newest first (values hidden from your role null)."""
    _customer_owned(customer_id)
    items, total = customer_timeline_of(_engine(), customer_id, page, page_size)
    hidden = _engine().hidden_for(current_user())  # money in record changes and process events: null
    return paged(access.hide_values(json_value(items), hidden), total, page, page_size)


@customers_blp.route("/customers/<int:customer_id>/interactions", methods=["POST"])
@customers_blp.arguments(s.InteractionArgs)
@customers_blp.response(201, s.CreatedIdSchema)
@customers_blp.errors(401, 404, 422)
def add_interaction(data, customer_id):
    """Log a call, visit, meeting or message: it counts as follow-up."""
    _customer_owned(customer_id)
    new_id = interactions.record_interaction(_engine(), customer_id, data["kind"], current_user().name,
                                             data.get("note"))
    return {"id": new_id}


@customers_blp.route("/customers/<int:customer_id>/transfer", methods=["POST"])
@customers_blp.arguments(s.TransferArgs)
@customers_blp.response(200, s.CustomerSchema)
@customers_blp.errors(401, 403, 404, 422)
def move_customer(data, customer_id):
    """A supervisor or admin moves a customer to another owner (`owner: null` releases it to the pool)."""
    user = current_user()
    if user.role not in MANAGES:
        raise Forbidden(f"{access.a_role(user.role)} may not move customers")
    _customer_owned(customer_id)
    _check_holder({"owner": data["owner"]})
    ownership.transfer(_engine(), customer_id, data["owner"], user.name, note=data.get("note"))
    return _shown("customer", cu.get_customer(_engine(), customer_id), user)


# ---- records around customers: one set of routes per collection ----------------------------------
def _record_in_reach(kind, record_id):
    record = records.get_record(_engine(), kind, record_id)
    if not _in_reach(current_user(), record):
        raise NotFound(f"no {kind} with id {record_id}")
    return record


_ABOUT = {"contact": lambda record: ("customer", record.get("customer_id")),
          "lead": lambda record: ("lead", record.get("id"))}


def _record_readable(kind, record_id):
    """A record to read: in reach, or (a contact, a lead) about a task given to the caller."""
    record = records.get_record(_engine(), kind, record_id)
    user = current_user()
    if not _in_reach(user, record):
        about = _ABOUT[kind](record) if kind in _ABOUT else None
        if about is None or about[1] is None or not access.record_readable(
                user, record, _engine().has_task_about(user, *about)):
            raise NotFound(f"no {kind} with id {record_id}")
    return record


def _record_routes(collection, kind, schema, create_args, update_args):
    page_schema = s.page_schema(schema)

    @customers_blp.route(f"/{collection}", methods=["GET"], endpoint=f"list_{collection}")
    @customers_blp.arguments(s.RecordListArgs, location="query", as_kwargs=True)
    @customers_blp.response(200, page_schema)
    @customers_blp.errors(401, 422)
    def list_records(page, page_size, customer_id=None):
        user = current_user()
        scope = _scope(user)
        if kind == "contact" and customer_id is not None and scope and _engine().has_task_about(
                user, "customer", customer_id):  # the contacts of a customer a task is about
            scope = {}
        items, total = records.list_records(_engine(), kind, customer_id, page, page_size, **scope)
        return paged([_shown(kind, r, user) for r in items], total, page, page_size)

    @customers_blp.route(f"/{collection}", methods=["POST"], endpoint=f"create_{kind}")
    @customers_blp.arguments(create_args)
    @customers_blp.response(201, schema)
    @customers_blp.errors(401, 404, 422)
    def create_record(data):
        user = current_user()
        if data.get("customer_id") is not None:
            _customer_owned(data["customer_id"])
        elif kind == "payment" and data.get("contract_id") is not None:
            _record_in_reach("contract", data["contract_id"])
        elif kind == "lead" and user.role not in MANAGES:
            data.setdefault("owner", user.name)
        if data.get("customer_id") is None and data.get("contract_id") is None:  # else the customer's team
            _land(data)
        _check_holder(data)
        return _shown(kind, records.create_record(_engine(), kind, data, actor=user.name), user)

    @customers_blp.route(f"/{collection}/<int:record_id>", methods=["GET"], endpoint=f"get_{kind}")
    @customers_blp.response(200, schema)
    @customers_blp.errors(401, 404)
    def get_record(record_id):
        return _shown(kind, _record_readable(kind, record_id), current_user())

    @customers_blp.route(f"/{collection}/<int:record_id>", methods=["PATCH"], endpoint=f"update_{kind}")
    @customers_blp.arguments(update_args)
    @customers_blp.response(200, schema)
    @customers_blp.errors(401, 403, 404, 422)
    def update_record(data, record_id):
        user = current_user()
        _record_in_reach(kind, record_id)
        for name in access.MONEY_FIELDS.get(kind, ()):
            if name in data and user.role not in access.SEES_AMOUNTS:
                raise Forbidden(f"{access.a_role(user.role)} may not change {kind} amounts")
        _check_holder(data)
        return _shown(kind, records.update_record(_engine(), kind, record_id, data, actor=user.name), user)

    noun = collection.replace("_", " ")
    list_records.__doc__ = f"The {noun} in reach, newest first."
    create_record.__doc__ = f"Create one of the {noun}; every bad field is reported at once (422)."
    get_record.__doc__ = f"One of the {noun}."
    update_record.__doc__ = f"Change the given fields of one of the {noun}."


for _collection, (_kind, _schema, _create, _update) in s.RECORDS.items():
    _record_routes(_collection, _kind, _schema, _create, _update)


@customers_blp.route("/leads/<int:lead_id>/interactions", methods=["POST"])
@customers_blp.arguments(s.InteractionArgs)
@customers_blp.response(201, s.CreatedIdSchema)
@customers_blp.errors(401, 404, 422)
def add_lead_interaction(data, lead_id):
    """Log a call, visit, meeting or message on a lead: a follow-up that keeps it with its owner."""
    _record_in_reach("lead", lead_id)
    new_id = interactions.record_lead_interaction(_engine(), lead_id, data["kind"], current_user().name,
                                                  data.get("note"))
    return {"id": new_id}


@customers_blp.route("/leads/<int:lead_id>/convert", methods=["POST"])
@customers_blp.arguments(s.ConvertArgs, required=False)
@customers_blp.response(201, s.ConvertResultSchema)
@customers_blp.errors(401, 404, 409, 422)
def convert_lead(data, lead_id):
    """Turn a lead into a customer (and a contact), or link it to the existing customer it matches by credit
    code, company name or phone (`link_existing`, default true, as the lead SOP does); the body may
    override the customer's fields."""
    user = current_user()
    lead = _record_in_reach("lead", lead_id)
    data = dict(data or {})
    if not lead.get("team"):
        _land(data, owner=lead.get("owner"))
    _check_holder(data)
    link = data.pop("link_existing", True)
    customer, warnings, info = records.convert_lead(_engine(), lead_id, user.name, data or None, link_existing=link,
                                                    with_match=True)
    return {"customer": _shown("customer", customer, user), "warnings": _warnings(warnings, user),
            "linked": info.get("matched_by") is not None, "matched_by": info.get("matched_by")}


@customers_blp.route("/vocabularies", methods=["GET"])
@customers_blp.arguments(s.VocabularyArgs, location="query", as_kwargs=True)
@customers_blp.response(200, s.TermListSchema)
@customers_blp.errors(401, 422)
def list_vocabularies(vocabulary=None):
    """The active terms (levels, sources, regions, industries, tags), by vocabulary and position."""
    return {"items": json_value(vocab.list_terms(_engine(), vocabulary))}


@customers_blp.route("/vocabularies/<vocabulary>", methods=["POST"])
@customers_blp.arguments(s.TermCreateArgs)
@customers_blp.response(201, s.TermRefSchema)
@customers_blp.errors(401, 403, 409, 422)
def add_term(data, vocabulary):
    """Add a term (admins)."""
    _require_admin()
    vocab.add_term(_engine(), vocabulary, data["code"], data["label"], data.get("parent_code"),
                   data["position"], data.get("attrs"))
    return {"vocabulary": vocabulary, "code": data["code"]}


@customers_blp.route("/vocabularies/<vocabulary>/<code>", methods=["PATCH"])
@customers_blp.arguments(s.TermUpdateArgs)
@customers_blp.response(200, s.TermRefSchema)
@customers_blp.errors(401, 403, 404, 422)
def update_term(data, vocabulary, code):
    """Change a term's label, position, parent or attributes, or retire it (`active: false`) (admins)."""
    _require_admin()
    if not data:
        raise InvalidInput("nothing to change", {"_schema": ["send at least one of label, parent_code, position, "
                                                             "active, attrs"]})
    vocab.update_term(_engine(), vocabulary, code, **data)
    return {"vocabulary": vocabulary, "code": code}


@customers_blp.route("/customer-settings", methods=["GET"])
@customers_blp.response(200, s.SettingsSchema)
@customers_blp.errors(401)
def get_hub_settings():
    """Pool rules and check-in limits in force."""
    return hub_settings.current(_engine())


@customers_blp.route("/customer-settings/<key>", methods=["POST"])
@customers_blp.arguments(s.SettingArgs)
@customers_blp.response(200, s.SettingsSchema)
@customers_blp.errors(401, 403, 422)
def put_hub_setting(data, key):
    """Change one setting (admins); answers `{key: value}`."""
    _require_admin()
    return {key: hub_settings.set_setting(_engine(), key, data["value"], current_user().name)}


# ---- pool ----------------------------------------------------------------------------------------
@pool_blp.route("", methods=["GET"])
@pool_blp.arguments(PageArgs, location="query", as_kwargs=True)
@pool_blp.response(200, s.CustomerPageSchema)
@pool_blp.errors(401, 422)
def list_pool(page, page_size):
    """The pool of the caller's teams; phones and e-mails masked until claimed."""
    user = current_user()
    items, total = pool.list_pool(_engine(), user.name, page, page_size, teams=access.pool_scope(user))
    return paged([_shown("customer", c, current_user()) for c in items], total, page, page_size)


@pool_blp.route("/<int:customer_id>/claim", methods=["POST"])
@pool_blp.response(200, s.CustomerSchema)
@pool_blp.errors(401, 403, 404, 409)
def claim(customer_id):
    """Take a customer from the pool: 403 past a limit, 409 when someone else was faster."""
    return _shown("customer", pool.claim(_engine(), customer_id, current_user().name), current_user())


# ---- check-ins -----------------------------------------------------------------------------------
@checkins_blp.route("/templates", methods=["GET"])
@checkins_blp.response(200, s.TemplateListSchema)
@checkins_blp.errors(401)
def list_templates():
    """The latest version of every scenario's template."""
    return {"items": json_value(ck.list_templates(_engine()))}


@checkins_blp.route("/templates/<scenario>", methods=["POST"])
@checkins_blp.arguments(s.TemplateArgs)
@checkins_blp.response(201, s.TemplateSchema)
@checkins_blp.errors(401, 403, 422)
def define_template(data, scenario):
    """A new version of the scenario's template (admins)."""
    _require_admin()
    return json_value(ck.define_template(_engine(), scenario, data["name"], data["fields"], current_user().name))


@checkins_blp.route("/templates/<scenario>", methods=["GET"])
@checkins_blp.arguments(s.TemplateVersionArgs, location="query", as_kwargs=True)
@checkins_blp.response(200, s.TemplateSchema)
@checkins_blp.errors(401, 404, 422)
def get_template(scenario, version=None):
    """The scenario's template: the latest version, or `version`."""
    return json_value(ck.get_template(_engine(), scenario, version))


@checkins_blp.route("/files", methods=["POST"])
@checkins_blp.arguments(s.FileArgs, location="files")
@checkins_blp.response(201, s.FileSchema)
@checkins_blp.errors(401, 413, 422)
def upload_file(data):
    """Upload a photo or signature (multipart field `file`); put the returned id in the check-in."""
    return files.store_file(_engine(), data["file"].read(), current_user().name)


@checkins_blp.route("", methods=["POST"])
@checkins_blp.arguments(s.CheckinArgs)
@checkins_blp.response(201, s.CheckinSchema)
@checkins_blp.errors(401, 404, 422)
def create_checkin(data):
    """Check in at a customer with the scenario's template: stamped with server time, flagged when far
    from the customer's address."""
    _customer_owned(data["customer_id"])
    return json_value(ck.create_checkin(_engine(), data["scenario"], data["customer_id"], current_user().name,
                                        data.get("values") or {}, data.get("template_version")))


@checkins_blp.route("", methods=["GET"])
@checkins_blp.arguments(s.CheckinListArgs, location="query", as_kwargs=True)
@checkins_blp.response(200, s.CheckinPageSchema)
@checkins_blp.errors(401, 404, 422)
def list_checkins(page, page_size, customer_id=None):
    """A customer's check-ins, or (without `customer_id`) mine; supervisors see their teams', admins everyone's."""
    user = current_user()
    if customer_id is not None:
        _customer_owned(customer_id)
        people = None
    else:
        people = access.record_people(user, services().identity.members_of)
    items, total = ck.list_checkins(_engine(), customer_id, None, page, page_size, users=people)
    return paged(json_value(items), total, page, page_size)


# ---- imports -------------------------------------------------------------------------------------
def _importer():
    user = current_user()
    if user.role not in MANAGES:
        raise Forbidden(f"{access.a_role(user.role)} may not import customers")
    return user


def _import_actors():
    """Whose imports the caller reaches (None: everyone's): their own and their teams' members'."""
    return access.record_people(_importer(), services().identity.members_of)


@imports_blp.route("", methods=["POST"])
@imports_blp.arguments(s.ImportFileArgs, location="files")
@imports_blp.arguments(s.ImportArgs, location="form")
@imports_blp.response(201, s.ImportReportSchema)
@imports_blp.alt_response(200, schema=s.ImportReportSchema, description="A dry run: nothing was written")
@imports_blp.alt_response(202, schema=s.ImportBatchSchema, description=(
    "A big file (or `background=true`): the batch, queued; poll its `Location`, GET /api/imports/{id}"))
@imports_blp.errors(401, 403, 413, 422)
def start_import(upload, form):
    """Import customers from a spreadsheet (supervisors and admins): `file` (.xlsx/.csv), `mode`
    (create/upsert/update), `key`, `dry_run`, `mapping` (JSON {header: field}), `background`. A file of
    more than FOLLOWUP_IMPORT_BACKGROUND_ROWS rows runs in the background: 202 with the queued batch."""
    user = _importer()
    try:
        mapping = json.loads(form["mapping"]) if form.get("mapping") else None
    except ValueError:
        mapping = False
    if mapping is not None and not isinstance(mapping, dict):
        raise InvalidInput("mapping must be a JSON object", {"mapping": ["not a JSON object"]})
    file = upload["file"]
    answer, queued = _engine().import_as(user, file.read(), file.filename, mapping, form["mode"],
                                         form.get("key") or None, form["dry_run"], form.get("background"))
    if queued:
        location = url_for("imports.get_import", batch_id=answer["id"])
        response = current_app.json.response(s.ImportBatchSchema().dump(json_value(answer)))
        response.status_code, response.headers["Location"] = 202, location
        return response
    return json_value({k: v for k, v in answer.items() if k != "error_rows"}), 200 if form["dry_run"] else 201


@imports_blp.route("/<int:batch_id>", methods=["GET"])
@imports_blp.response(200, s.ImportBatchDetailSchema)
@imports_blp.errors(401, 403, 404)
def get_import(batch_id):
    """One import and its progress: `status`, `rows_done` of `total_rows`, `percent`; when it has ended,
    the `summary` (and the first errors and warnings), or the `error` that stopped it."""
    return json_value(_engine().imports.batch(batch_id, actors=_import_actors()))


@imports_blp.route("", methods=["GET"])
@imports_blp.arguments(PageArgs, location="query", as_kwargs=True)
@imports_blp.response(200, s.ImportBatchPageSchema)
@imports_blp.errors(401, 403, 422)
def list_imports(page, page_size):
    """Past imports, newest first (supervisors and admins)."""
    items, total = importer.list_batches(_engine(), page, page_size, actors=_import_actors())
    return paged(json_value(items), total, page, page_size)


@imports_blp.route("/<int:batch_id>/errors.csv", methods=["GET"])
@imports_blp.response(200, description="The bad rows with their reasons, as CSV", content_type="text/csv")
@imports_blp.errors(401, 403, 404, 409)
def import_errors(batch_id):
    """The bad rows with their reasons, as CSV to fix and import again."""
    return Response(importer.import_error_file(_engine(), batch_id, actors=_import_actors()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=import-{batch_id}-errors.csv"})


@imports_blp.route("/<int:batch_id>/cancel", methods=["POST"])
@imports_blp.response(200, s.ImportBatchSchema)
@imports_blp.errors(401, 403, 404, 409)
def cancel_import(batch_id):
    """Stop an import that is queued or running: it ends `cancelled` before its next chunk; the rows it
    wrote so far stay (revert it to undo them). 409 when it has already ended."""
    return json_value(_engine().imports.cancel(batch_id, _importer().name, actors=_import_actors()))


@imports_blp.route("/<int:batch_id>/revert", methods=["POST"])
@imports_blp.response(200, s.RevertSchema)
@imports_blp.errors(401, 403, 404, 409)
def revert_import(batch_id):
    """Undo an import as a whole; 409 naming the customers changed or used since, or when it still runs."""
    return importer.revert_import(_engine(), batch_id, _importer().name, actors=_import_actors())
