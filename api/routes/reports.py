"""`GET /api/reports/<name>`: the SOP reports (engine/sop/reports.py) for supervisors and admins.

Each takes `team` (a supervisor may only ask for one of their own groups and must name one), `since`
and `until` (ISO 8601; default the last 30 days)."""
from flask import abort
from marshmallow import EXCLUDE, Schema, fields

from engine import access
from engine.sop import reports
from engine.errors import Forbidden

from api.services import current_user, services
from api.routes.common import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/api/reports", description="Reports the SOPs feed")


class ReportArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    team = fields.String(load_default=None)
    since = fields.AwareDateTime(load_default=None, default_timezone=None)
    until = fields.AwareDateTime(load_default=None, default_timezone=None)


def _run(name, team, since, until):
    user = current_user()
    access.require(user, access.METRICS_VIEW)
    if user.role != "admin" and (team is None or team not in user.groups):
        raise Forbidden(f"{user.name} may see reports of their own teams only "
                        f"({', '.join(sorted(user.groups)) or 'none'}); pass ?team=")
    if name not in reports.REPORTS:
        abort(404)
    return reports.REPORTS[name](services().engine, team=team, since=since, until=until)


@blp.route("/<name>", methods=["GET"])
@blp.arguments(ReportArgs, location="query", as_kwargs=True)
@blp.response(200)
@blp.errors(401, 403, 404, 422)
def report(name, team, since, until):
    """One report: funnel, sla, satisfaction, renewals, checkins or leaderboard."""
    return _run(name, team, since, until)
