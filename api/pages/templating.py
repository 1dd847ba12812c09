"""Helpers the templates use: labels in the reader's language, and a few small formats."""
import json
from urllib.parse import urlencode

from flask import request
from flask_babel import gettext

from api.pages import messages
from api.pages.auth import csrf_token

_l = messages._l

COLUMNS = {
    "from": _l("from"), "to": _l("to"), "count": _l("count"), "conversion": _l("conversion"),
    "avg_hours": _l("average hours"), "week": _l("week"), "answers": _l("answers"), "avg_csat": _l("average CSAT"),
    "nps": _l("NPS"), "contract_id": _l("contract"), "title": _l("title"), "end_date": _l("end date"),
    "owner": _l("owner"), "outcome": _l("outcome"), "team": _l("team"), "agent": _l("agent"),
    "responses": _l("responses"), "breaches": _l("SLA breaches"),
    "avg_first_response_hours": _l("first response (hours)"),
    "checkins": _l("check-ins"), "far": _l("far from the customer"), "negative": _l("negative feedback"),
    "alerts": _l("alerts"), "completion": _l("completion"), "tasks_done": _l("tasks done"), "on_time": _l("on time"),
    "visits": _l("visits"), "tickets": _l("tickets"), "resolved": _l("resolved"),
    "resolution_rate": _l("resolution rate"),
}

STAGES = {"new": _l("new"), "contacted": _l("contacted"), "qualified": _l("qualified"), "converted": _l("converted")}
OUTCOMES = {"renewed": _l("renewed"), "lost": _l("lost"), "open": _l("open")}

REPORT_NAMES = {"funnel": _l("Lead funnel"), "sla": _l("SLA and first response"), "satisfaction": _l("CSAT and NPS"),
                "renewals": _l("Renewals"), "checkins": _l("Check-ins"), "leaderboard": _l("Leaderboard")}

FIELD_TYPES_AS_INPUT = {"long": "number", "integer": "number", "int": "number", "double": "number",
                        "number": "number", "float": "number", "decimal": "number", "date": "date"}


def column_label(key):
    return messages.label(COLUMNS, key)


def cell(key, value):
    """A report cell as a person reads it: rates as percentages, stages and outcomes in words."""
    if value is None:
        return "–"
    if key in ("conversion", "completion", "renewal_rate", "resolution_rate") and isinstance(value, (int, float)):
        return f"{value * 100:.0f}%"
    if key in ("from", "to"):
        return messages.label(STAGES, value)
    if key == "outcome":
        return messages.label(OUTCOMES, value)
    return value


def url_with(**changes):
    """This page's address with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + ("?" + query if query else "")


def page_count(total, page_size):
    """How many pages a listing of `total` items takes (at least one: an empty listing is one page); what
    the pager (_pager.html) counts to."""
    return max(1, -(-(total or 0) // page_size))


def short_id(value):
    return str(value or "")[:8]


def value_text(value):
    """A variable's value as text for the variables table."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def register(app):
    app.jinja_env.globals.update(
        csrf_token=csrf_token, column_label=column_label, cell=cell, url_with=url_with,
        status_label=lambda code: messages.label(messages.STATUS, code),
        action_label=lambda code: messages.label(messages.ACTION, code),
        role_label=lambda code: messages.label(messages.ROLE, code),
        import_status=lambda code: messages.label(messages.IMPORT_STATUS, code),
        import_mode=lambda code: messages.label(messages.IMPORT_MODE, code),
        import_key=lambda code: messages.label(messages.IMPORT_KEY, code),
        report_name=lambda code: messages.label(REPORT_NAMES, code),
        input_type=lambda kind: FIELD_TYPES_AS_INPUT.get((kind or "string").lower(), "text"),
        short_id=short_id, value_text=value_text)
