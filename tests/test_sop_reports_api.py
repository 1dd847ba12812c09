"""GET /api/reports/<name>: supervisors see their own teams, admins everything, agents nothing."""
from api_fixtures import *  # noqa: F401,F403
from sop_support import deploy_library, lead


def test_reports_over_http_respect_teams_and_roles(engine, team):
    deploy_library(engine)
    lead_id = lead(engine)
    engine.start("lead_assignment", business_key=f"lead:{lead_id}",
                 variables={"lead_id": lead_id, "region": "310000", "industry": None, "source": "website"})
    answer = team.boss.get("/api/reports/funnel?team=sales-east")
    assert answer.status_code == 200 and answer.json["leads"] == 1 and answer.json["team"] == "sales-east"
    assert team.boss.get("/api/reports/funnel?team=service").status_code == 403
    mine = team.boss.get("/api/reports/funnel")  # no team named: all of the supervisor's (issue 12 item 19)
    assert mine.status_code == 200 and mine.json["team"] == ["sales-east", "supervisors"] and mine.json["leads"] == 1
    assert team.li.get("/api/reports/funnel?team=sales-east").status_code == 403
    everyone = team.admin.get("/api/reports/leaderboard?since=2000-01-01T00:00:00%2B08:00")
    assert everyone.status_code == 200 and "rows" in everyone.json
    assert team.admin.get("/api/reports/nonsense").status_code == 404
    assert team.admin.get("/api/reports/sla?since=yesterday").status_code == 422
