"""Issue 12, messages a person reads: Chinese names, labels, error texts, reports, bodies and files."""
import io

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import Caller, start


# ---- 18: Chinese user and group names; enum labels; error texts that read ----------------------------

def test_chinese_user_and_group_names_are_accepted(team, client):
    made = team.admin.post("/api/users", json={"name": "王芳", "role": "agent", "groups": ["销售一部"],
                                               "display_name": "王芳"})
    assert made.status_code == 201, made.get_json()
    wang_fang = Caller(client, made.get_json()["token"], "王芳")
    me = wang_fang.get("/api/me").get_json()
    assert me["name"] == "王芳" and me["groups"] == ["销售一部"]
    refused = team.admin.post("/api/users", json={"name": "王 芳", "role": "agent"})
    assert refused.status_code == 422 and "王芳" in refused.get_json()["errors"]["name"][0]


def test_an_enum_label_stands_for_its_id(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.li, "first_contact", "C-1", owner="li")
    [task] = instance["tasks"]
    done = team.li.post(f"/api/tasks/{task['id']}/complete", json={"variables": {"outcome": "已联系"}})
    assert done.status_code == 200, done.get_json()
    assert team.li.get(f"/api/instances/{instance['id']}").get_json()["variables"]["outcome"] == "reached"


def test_error_texts_read_as_sentences(team):
    team.designer.deploy("first_contact.bpmn")
    instance = start(team.li, "first_contact", "C-1", owner="li")
    refused = team.li.post("/api/messages", json={"name": "x"})
    assert refused.status_code == 403 and refused.get_json()["detail"] == "an agent may not send messages"
    assert team.boss.post("/api/users", json={"name": "x1", "role": "agent"}).get_json()["detail"] == \
        "a supervisor may not manage users"
    [task] = instance["tasks"]
    released = team.wang.post(f"/api/tasks/{task['id']}/unclaim")
    assert "None" not in released.get_json()["detail"], released.get_json()


# ---- 19: reports default to a supervisor's teams and read back the dates they echo ----------------------

def test_report_dates_read_back_what_they_echo(team):
    plain = team.boss.get("/api/reports/funnel?since=2026-11-01&until=2026-12-01")
    assert plain.status_code == 200, plain.get_json()
    body = plain.get_json()
    assert body["since"] == "2026-10-31T16:00:00Z" and body["until"] == "2026-11-30T16:00:00Z"  # Asia/Shanghai
    again = team.boss.get(f"/api/reports/funnel?since={body['since']}&until={body['until']}")
    assert again.status_code == 200 and again.get_json()["since"] == body["since"]
    unencoded_plus = team.boss.get("/api/reports/funnel?since=2026-11-01T00:00:00+08:00")  # '+' arrives as ' '
    assert unencoded_plus.status_code == 200 and unencoded_plus.get_json()["since"] == "2026-10-31T16:00:00Z"
    backwards = team.boss.get("/api/reports/funnel?since=2026-12-01&until=2026-11-01")
    assert backwards.status_code == 422 and "until" in str(backwards.get_json()["errors"]), backwards.get_json()
    assert team.boss.get("/api/reports/sla").status_code == 200
