"""The supervisor's pages: the cockpit, the instance list (filters, batch actions), an instance (diagram,
variables, tasks, timers, audit trail, actions) and the reports with their CSV export."""
from datetime import timedelta

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from engine import access, clock
from engine.customers.tabular import write_csv
from engine.errors import FollowupError, Forbidden
from engine.instances import overview
from engine.status import FINAL, InstanceStatus
from api.pages import calls, messages
from api.pages.agent import customer_filter, process_names
from api.pages.auth import local_target, requires
from api.pages.i18n import is_overdue, zone
from api.pages.templating import cell, column_label, page_count
from api.schemas.workflow import STATUSES, InstanceListArgs

blp = Blueprint("supervisor", __name__, template_folder="templates")

WORDS = ("from", "to", "outcome")  # a report's codes its CSV says in the reader's words (numbers stay numbers)


def _csv_value(key, value):
    if value is None:
        return ""
    return cell(key, value) if key in WORDS else value

ACTIONS = {"suspend": access.INSTANCE_SUSPEND, "resume": access.INSTANCE_RESUME,
           "cancel": access.INSTANCE_CANCEL, "retry": access.INSTANCE_RETRY}
PAGE_SIZE = 50


@blp.route("/cockpit")
def cockpit():
    now = clock.now()
    data = overview.cockpit(calls.engine(), calls.process_groups(), g.user, overview.start_of_day(now, zone()), now)
    widest = max([p["running"] for p in data["processes"]] + [1])
    most_overdue = max([t["open"] for t in data["overdue_by_team"]] + [1])
    return render_template("cockpit.html", data=data, names=process_names(), widest=widest,
                           most_overdue=most_overdue, statuses=overview.RUNNING)


# ---- instances --------------------------------------------------------------------------------
@blp.route("/instances")
def instances():
    raw = {"process_key": request.args.get("process") or None, "status": request.args.get("status") or None,
           "business_key": None, "page": request.args.get("page", "1"), "page_size": str(PAGE_SIZE)}
    customer_text = (request.args.get("customer") or "").strip()[:300]
    business_key, customer_name, found = customer_filter(customer_text)
    raw["business_key"] = business_key
    try:
        args = InstanceListArgs().load({k: v for k, v in raw.items() if v is not None})
    except ValidationError:
        args = InstanceListArgs().load({"page_size": str(PAGE_SIZE)})
    page = args.pop("page")
    args.pop("page_size")
    result = calls.call("instances.list_instances", page=page, page_size=PAGE_SIZE, **args) if found else \
        {"items": [], "total": 0}
    total = result["total"] or 0
    user = g.user
    batch = [name for name in ("suspend", "resume", "cancel") if access.allowed(user, ACTIONS[name])]
    return render_template("instances.html", items=result["items"], total=total, page=page,
                           pages=page_count(total, PAGE_SIZE), process=raw["process_key"], status=raw["status"],
                           customer=customer_text, customer_name=customer_name, no_customer=not found,
                           names=process_names(), statuses=STATUSES, batch=batch)


@blp.route("/instances/batch", methods=["POST"])
def batch():
    action = request.form.get("action")
    if action not in ("suspend", "resume", "cancel"):
        return redirect(url_for("supervisor.instances"))
    access.require(g.user, ACTIONS[action])
    ids = request.form.getlist("id")[:500]
    done, failed = 0, []
    for instance_id in ids:
        try:
            calls.call(f"instances.{action}", {}, instance_id) if action in ("cancel", "retry") else \
                calls.call(f"instances.{action}", instance_id)
            done += 1
        except FollowupError as err:
            failed.append((instance_id[:8], messages.say(err.message)))
    if done:
        flash({"suspend": _("%(n)s instances suspended.", n=done), "resume": _("%(n)s instances resumed.", n=done),
               "cancel": _("%(n)s instances cancelled.", n=done)}[action], "ok")
    for short, reason in failed:
        flash(_("Instance %(id)s: %(reason)s", id=short, reason=reason), "error")
    if not ids:
        flash(_("Tick the instances first."), "warn")
    return redirect(local_target(request.form.get("next"), url_for("supervisor.instances")))


@blp.route("/instances/<instance_id>")
def instance(instance_id):
    described = calls.call("instances.get_instance", instance_id)
    events = calls.call("instances.events", instance_id, 1, 200)
    user = g.user
    status = described["status"]
    actions = [name for name, allowed in (
        ("suspend", status not in FINAL | {InstanceStatus.SUSPENDED}), ("resume", status == InstanceStatus.SUSPENDED),
        ("retry", status == InstanceStatus.ERROR), ("cancel", status not in FINAL))
        if allowed and access.allowed(user, ACTIONS[name])]
    incident = described.get("incident") or {}
    now = clock.now()
    tasks = [{**t, "overdue": is_overdue(t["due_at"], now)} for t in described["tasks"]]
    return render_template("instance.html", instance=described, tasks=tasks, events=events,
                           name=process_names().get(described["process_key"], described["process_key"]),
                           actions=actions, may_assign=access.allowed(user, access.TASK_ASSIGN),
                           active=described["active_element_ids"], incident_element=incident.get("element_id"))


@blp.route("/instances/<instance_id>/<action>", methods=["POST"])
def act(instance_id, action):
    if action not in ACTIONS:
        return redirect(url_for("supervisor.instance", instance_id=instance_id))
    if action == "cancel":
        reason = (request.form.get("reason") or "").strip()[:500] or None
        calls.call("instances.cancel", {"reason": reason} if reason else {}, instance_id)
    elif action == "retry":
        calls.call("instances.retry", {}, instance_id)
    else:
        calls.call(f"instances.{action}", instance_id)
    flash({"suspend": _("The instance is suspended."), "resume": _("The instance runs again."),
           "cancel": _("The instance is cancelled."), "retry": _("The failed step ran again.")}[action], "ok")
    return redirect(url_for("supervisor.instance", instance_id=instance_id))


# ---- reports ----------------------------------------------------------------------------------
REPORTS = ("funnel", "sla", "satisfaction", "renewals", "checkins", "leaderboard")
PERIODS = (7, 30, 90)


def _report_args():
    name = request.args.get("report") if request.args.get("report") in REPORTS else REPORTS[0]
    user = g.user
    teams = sorted(user.groups)
    team = request.args.get("team")
    if team not in teams:
        team = None  # every team the reader reaches (an admin: all; a supervisor: theirs), as the API's default
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 30
    return name, team, teams, days


def _run_report(name, team, days):
    until = clock.now()
    return calls.call("reports.report", name, team, until - timedelta(days=days), until)


@blp.route("/reports")
@requires(access.METRICS_VIEW)
def reports():
    name, team, teams, days = _report_args()
    try:
        data = _run_report(name, team, days)
        refused = None
    except Forbidden as err:
        data, refused = None, messages.say(err.message)
    return render_template("reports.html", name=name, team=team, teams=teams, days=days, data=data,
                           refused=refused, reports=REPORTS, periods=PERIODS, table=report_table(name, data))


def report_table(name, data):
    """(column keys, rows) of a report's main table: what the page lists and the CSV holds."""
    if data is None:
        return [], []
    if name == "funnel":
        return ["from", "to", "count", "conversion", "avg_hours"], data["stages"]
    if name == "satisfaction":
        return ["week", "answers", "avg_csat", "nps"], data["trend"]
    if name == "renewals":
        return ["contract_id", "title", "end_date", "owner", "outcome"], data["items"]
    if name == "sla":
        return ["team", "agent", "responses", "breaches", "avg_first_response_hours"], data["rows"]
    if name == "checkins":
        return ["team", "checkins", "far", "negative", "alerts", "completion"], data["rows"]
    return ["agent", "tasks_done", "on_time", "visits", "tickets", "resolved", "resolution_rate"], data["rows"]


@blp.route("/reports.csv")
@requires(access.METRICS_VIEW)
def report_csv():
    name, team, _teams, days = _report_args()
    columns, rows = report_table(name, _run_report(name, team, days))
    # UTF-8 with a byte order mark (Excel opens the Chinese as it is); a title like =HYPERLINK(...) as text
    body = write_csv([column_label(c) for c in columns], [[_csv_value(c, row.get(c)) for c in columns] for row in rows])
    filename = f"{name}-{team or 'all'}-{days}d.csv"
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
