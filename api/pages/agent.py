"""The agent's pages: the inbox, a task (customer, form, claim, release, complete) and the check-in."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from engine import access, clock
from engine.customers import checkins
from engine.customers.interactions import customer_id_of
from engine.errors import FollowupError, InvalidInput, NotFound
from engine.instances import overview
from api.pages import calls, messages
from api.pages.auth import local_target
from api.pages.i18n import is_overdue
from api.pages.templating import page_count
from api.schemas.workflow import TaskListArgs

blp = Blueprint("agent", __name__, template_folder="templates")

SCOPES = ("all", "mine", "group", "unassigned")
PAGE_SIZE = 50


# ---- the inbox --------------------------------------------------------------------------------
def process_names() -> dict:
    """{process key: name} of every deployed process (definitions are public)."""
    items, _total = calls.engine().list_definitions(1, 500)
    return {d.key: d.name for d in items}


def customer_filter(text):
    """(business key, customer name, found) for the inbox's customer box: a business key as typed ('42',
    'lead:7'), else the first customer in reach whose name or credit code matches; `found` is False when
    none does (the inbox is then empty and says why)."""
    text = (text or "").strip()
    if not text:
        return None, None, True
    if text.isdigit() or ":" in text:
        return text, None, True
    matches = calls.call("customers.list_customers", page=1, page_size=1, q=text[:300])["items"]
    if not matches:
        return None, None, False
    return str(matches[0]["id"]), matches[0]["name"], True


@blp.route("/inbox")
def inbox():
    scope = request.args.get("scope") if request.args.get("scope") in SCOPES else "all"
    process = request.args.get("process") or None
    customer_text = (request.args.get("customer") or "").strip()[:300]
    business_key, customer_name, found = customer_filter(customer_text)
    try:
        args = TaskListArgs().load({k: v for k, v in {
            "scope": scope, "process_key": process, "business_key": business_key,
            "page": request.args.get("page", "1"), "page_size": str(PAGE_SIZE)}.items() if v is not None})
    except ValidationError:  # a hand-made address: the plain inbox
        args = TaskListArgs().load({"scope": scope, "page_size": str(PAGE_SIZE)})
    page = args.pop("page")
    args.pop("page_size")
    result, counts = {"items": [], "total": 0}, {}
    if found:
        result = calls.call("tasks.list_tasks", page=page, page_size=PAGE_SIZE, **args)
        if business_key is None:  # the tabs' counts, kept counted by the database (not for one customer)
            counts = overview.inbox_totals(calls.engine(), g.user, args.get("process_key"))
        counts[scope] = result["total"]
    tasks = result["items"]
    names = calls.customers_shown([customer_id_of(t["business_key"]) for t in tasks])
    now = clock.now()
    rows = [{**t, "customer": names.get(customer_id_of(t["business_key"])), "overdue": is_overdue(t["due_at"], now)}
            for t in tasks]
    total = result["total"] or 0
    return render_template("inbox.html", rows=rows, total=total, counts=counts, scope=scope, process=process,
                           customer=customer_text, customer_name=customer_name, no_customer=not found,
                           processes=process_names(), page=page, pages=page_count(total, PAGE_SIZE), now=now)


def _back(default=None):
    return redirect(local_target(request.form.get("next"), default or url_for("agent.inbox")))


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
def claim(task_id):
    calls.call("tasks.claim", task_id)
    flash(_("The task is yours now."), "ok")
    return _back(url_for("agent.task", task_id=task_id))


@blp.route("/tasks/<task_id>/release", methods=["POST"])
def release(task_id):
    calls.call("tasks.unclaim", task_id)
    flash(_("The task is back in the pool of its group."), "ok")
    return _back()


@blp.route("/tasks/<task_id>/assign", methods=["POST"])
def assign(task_id):
    target = (request.form.get("user") or "").strip() or None
    try:
        calls.call("tasks.assign", {"user": target}, task_id)
    except InvalidInput as err:
        flash(messages.say(err.message), "error")
        return _back(url_for("agent.task", task_id=task_id))
    flash(_("The task was given to %(user)s.", user=target) if target else _("The task is unassigned now."), "ok")
    return _back(url_for("agent.task", task_id=task_id))


# ---- a task -----------------------------------------------------------------------------------
def customer_context(business_key):
    """The customer of a task as the API shows it to this user: {customer, contacts, timeline}, or None
    (no customer, or none in reach). A customer in a pool comes masked, without contacts or timeline."""
    customer_id = customer_id_of(business_key)
    if customer_id is None or customer_id >= 2**63:
        return None
    try:
        customer = calls.call("customers.get_customer", customer_id)
    except NotFound:
        return None
    context = {"customer": customer, "contacts": [], "timeline": []}
    try:  # in a pool: the name, masked contact details, nothing more
        context["contacts"] = calls.call("customers.list_contacts", page=1, page_size=5,
                                         customer_id=customer_id)["items"]
        context["timeline"] = calls.call("customers.customer_timeline", customer_id, 1, 8)["items"]
    except NotFound:  # or read through the task alone (access.record_readable): no timeline
        pass
    return context


def form_values(task, submitted=None):
    """What each field shows: the value just submitted, else the instance's variable, else the default."""
    variables = (task.get("instance") or {}).get("variables") or {}
    values = {}
    for field in task["form"]:
        name = field["id"]
        if submitted is not None and name in submitted:
            values[name] = submitted[name]
        elif variables.get(name) is not None:
            values[name] = variables[name]
        elif field.get("default") is not None:
            values[name] = field["default"]
        else:
            values[name] = ""
        if isinstance(values[name], bool):
            values[name] = "true" if values[name] else "false"
    return values


FIELD_KEYS = {"label": None, "type": "string", "default": None, "required": False, "enum": None, "min": None,
              "max": None, "minlength": None, "maxlength": None, "readonly": False}


def render_task(task, submitted=None, errors=None, status=200, summary=None):
    user = g.user
    task = {**task, "form": [{**FIELD_KEYS, **field} for field in task["form"]]}
    may_work = task["assignee"] == user.name
    return render_template(
        "task.html", task=task, values=form_values(task, submitted), errors=errors or {}, summary=summary,
        context=customer_context(task["business_key"]), process_name=process_names().get(task["process_key"]),
        overdue=is_overdue(task["due_at"]), may_work=may_work,
        may_claim=task["assignee"] is None and access.allowed(user, access.TASK_CLAIM),
        may_release=task["assignee"] is not None and (may_work or access.allowed(user, access.TASK_ASSIGN)),
        may_assign=access.allowed(user, access.TASK_ASSIGN), may_checkin=True), status


@blp.route("/tasks/<task_id>")
def task(task_id):
    return render_task(calls.call("tasks.get_task", task_id))


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
def complete(task_id):
    task = calls.call("tasks.get_task", task_id)
    submitted = {f["id"]: request.form.get(f"field.{f['id']}", "") for f in task["form"] if not f.get("readonly")}
    try:
        done = calls.call("tasks.complete", {"variables": submitted}, task_id)
    except InvalidInput as err:
        return render_task(task, submitted, messages.field_errors(err.errors), 422,
                           _("some values do not fit the form; see the fields below"))
    flash(_("Task completed: %(name)s", name=task["title"]), "ok")
    mine = [t for t in done["next_tasks"] if t["assignee"] == g.user.name]
    if mine:
        return redirect(url_for("agent.task", task_id=mine[0]["id"]))
    return redirect(url_for("agent.inbox"))


# ---- the check-in -----------------------------------------------------------------------------
def _number(text):
    """A number field's text as the number the JSON API would receive (left as text when it is not one:
    the engine then says why)."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def checkin_values(fields):
    """The template's values from the submitted form, photos uploaded first (as the API's client does)."""
    values, errors = {}, {}
    for field in fields:
        name, kind = field["name"], field["type"]
        key = f"field.{name}"
        if kind == "location":
            lat, lng = request.form.get(f"{key}.latitude", ""), request.form.get(f"{key}.longitude", "")
            if lat and lng:
                values[name] = {"latitude": _number(lat), "longitude": _number(lng),
                                "accuracy": _number(request.form.get(f"{key}.accuracy") or "0")}
        elif kind in ("photo", "signature"):
            uploads = [f for f in request.files.getlist(key) if f and f.filename]
            ids = []
            for upload in uploads:
                try:
                    ids.append(calls.call("checkins.upload_file", {"file": upload})["id"])
                except FollowupError as err:
                    errors[name] = [messages.say(err.message)]
            if ids:
                values[name] = ids if kind == "photo" else ids[0]
        elif kind == "multi":
            chosen = request.form.getlist(key)
            if chosen:
                values[name] = chosen
        else:
            text = request.form.get(key, "").strip()
            if text:
                values[name] = _number(text) if kind == "number" else text
    return values, errors


def _form_problems(fields, values):
    """What the check-in's own check (engine/customers/checkins.py) says of the fields that are not files
    (an upload's id is checked by the API), translated: {field: [reasons]}."""
    plain = [f for f in fields if f["type"] not in ("photo", "signature")]
    names = {f["name"] for f in plain}
    try:
        checkins.validate_values(plain, {k: v for k, v in values.items() if k in names})
    except InvalidInput as err:
        return messages.field_errors(err.errors)
    return {}


@blp.route("/checkin", methods=["GET", "POST"])
def checkin():
    templates = calls.call("checkins.list_templates")["items"]
    scenario = request.values.get("scenario") or (templates[0]["scenario"] if templates else None)
    template = next((t for t in templates if t["scenario"] == scenario), None)
    customer_id = request.values.get("customer", type=int)
    customers = calls.call("customers.list_customers", page=1, page_size=100)["items"]
    chosen = None
    if customer_id is not None and 0 < customer_id < 2**63:
        try:
            chosen = calls.call("customers.get_customer", customer_id)
        except NotFound:
            chosen = None
    errors, summary, values = {}, None, {}
    if request.method == "POST" and template is not None:
        values, errors = checkin_values(template["fields"])
        if chosen is None:  # the API is asked once a customer is chosen: say the form's problems with this one
            errors = {"_customer": [_("choose a customer")], **_form_problems(template["fields"], values), **errors}
        if not errors:
            try:
                made = calls.call("checkins.create_checkin", {
                    "customer_id": customer_id, "scenario": scenario, "values": values,
                    "template_version": template["version"]})
            except InvalidInput as err:
                errors, summary = messages.field_errors(err.errors), messages.say(err.message)
            else:
                if made.get("far_from_customer"):
                    flash(_("Checked in. You are %(m)s m from the customer's address; your supervisor will see "
                            "this.", m=round(made.get("distance_m") or 0)), "warn")
                else:
                    flash(_("Checked in at %(name)s.", name=chosen["name"]), "ok")
                return redirect(local_target(request.form.get("next"), url_for("agent.inbox")))
        summary = summary or _("some values do not fit the form; see the fields below")
    status = 422 if errors else 200
    return render_template("checkin.html", templates=templates, template=template, scenario=scenario,
                           customers=customers, chosen=chosen, values=values, errors=errors, summary=summary,
                           next=local_target(request.values.get("next"), "")), status
