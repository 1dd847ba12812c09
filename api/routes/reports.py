"""`GET /api/reports/<name>`: the SOP reports (engine/sop/reports.py) for supervisors and admins.

Each takes `team` (a supervisor may only ask for one of their own groups; without it, all of them),
`since` and `until` (ISO 8601: a date, a date and time in FOLLOWUP_TIMEZONE, or with an offset; default
the last 30 days). The answer echoes them in UTC with `Z`, a form the endpoint reads back."""
from datetime import date, datetime, time, timezone

from flask import abort
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from engine import access
from engine.sop import reports
from engine.errors import Forbidden

from api.services import current_user, services
from api.routes.common import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/api/reports", description="Reports the SOPs feed")


class Moment(fields.Field):
    """A date (`2026-11-01`: its midnight), a date and time without offset (in FOLLOWUP_TIMEZONE), or with
    one (`Z`, `+08:00`; a `+` that a query string turned into a space is read as `+`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        if len(text) > 19 and text[-6] == " " and text[-5:-3].isdigit():  # "...T00:00:00 08:00"
            text = text[:-6] + "+" + text[-5:]
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text or " " in text \
                else datetime.combine(date.fromisoformat(text), time(0))
        except ValueError:
            raise ValidationError("must be a date (2026-11-01) or a date and time (2026-11-01T09:00:00+08:00)") \
                from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=services().engine.settings.timezone)
        return moment.astimezone(timezone.utc)


class ReportArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    team = fields.String(load_default=None)
    since = Moment(load_default=None)
    until = Moment(load_default=None)

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("must be after since", "until")


def _echo(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if isinstance(moment, datetime) \
        else moment


def _run(name, team, since, until):
    user = current_user()
    access.require(user, access.METRICS_VIEW)
    if user.role != "admin":
        if team is None:
            if not user.groups:
                raise Forbidden(f"{user.name} belongs to no team, so has no reports to see")
            team = sorted(user.groups)  # a supervisor's own teams, all of them
        elif team not in user.groups:
            raise Forbidden(f"{user.name} may see reports of their own teams only "
                            f"({', '.join(sorted(user.groups))})")
    if name not in reports.REPORTS:
        abort(404)
    answer = reports.REPORTS[name](services().engine, team=team, since=since, until=until)
    return {**answer, "since": _echo(answer.get("since")), "until": _echo(answer.get("until"))}


@blp.route("/<name>", methods=["GET"])
@blp.arguments(ReportArgs, location="query", as_kwargs=True)
@blp.response(200)
@blp.errors(401, 403, 404, 422)
def report(name, team, since, until):
    """One report: funnel, sla, satisfaction, renewals, checkins or leaderboard."""
    return _run(name, team, since, until)
