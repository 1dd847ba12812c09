"""The pages in a real browser (Debian's chromium through Playwright): what a person signing in as an
agent, a supervisor or a designer sees and does, in English and in Chinese, on a desk and on a phone.

Each test takes screenshots into tests/browser/screenshots/ (gitignored); look at them after a change.
"""
import base64
import re

import sqlalchemy as sa

from browser_fixtures import *  # noqa: F401,F403
from browser_fixtures import english_ui_strings, screenshot, sign_in

HOME_HEADINGS = {"li": "Inbox", "boss": "Cockpit", "dora": "Processes", "ada": "Cockpit"}


def visible_text(page):
    """The page's visible text without code and technical details (variable names, element ids, the
    engine's raw messages kept aside), which are data rather than the pages' own words."""
    return page.evaluate("""() => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll('code, pre, details.technical, script, noscript').forEach(e => e.remove());
        return body.innerText;
    }""")


def english_left_in(text):
    return [piece for piece in english_ui_strings()
            if re.search(r"(?<![A-Za-z])" + re.escape(piece) + r"(?![A-Za-z])", text)]


# ---- sign-in ---------------------------------------------------------------------------------
def test_each_role_signs_in_and_lands_on_its_start_page(visit, site):
    page = visit(None)
    page.goto(site.url("/inbox"))
    assert page.url.startswith(site.url("/signin"))  # signed out: the sign-in page, then back here
    screenshot(page, "signin")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", "not-her-password")
    page.click("form button.primary")
    assert "The user name or the password is not right." in page.inner_text("main")
    for user, heading in HOME_HEADINGS.items():
        page = visit(user)
        assert page.inner_text("h1").startswith(heading), user
        assert page.locator(".me").inner_text() != ""
    page.click("text=Sign out")
    assert page.url.startswith(site.url("/signin")) and "You are signed out." in page.inner_text("main")
    page.goto(site.url("/cockpit"))
    assert page.url.startswith(site.url("/signin"))


# ---- the agent -------------------------------------------------------------------------------
def test_an_agent_claims_a_task_fixes_a_wrong_value_and_completes_it(visit, site):
    page = visit("li")
    rows = page.locator("li.task")
    assert rows.count() == 2
    first = rows.nth(0)
    assert "overdue" in first.get_attribute("class")  # the overdue task first, and marked
    assert re.search(r"overdue by \d+ minutes", first.locator(".badge.late").inner_text())
    assert "杭州云帆贸易有限公司" in first.inner_text()
    assert re.search(r"\d+ hours? left", rows.nth(1).locator(".due").inner_text())
    screenshot(page, "inbox")

    rows.filter(has_text="上海明远科技有限公司").locator("a.task-title").click()
    assert page.locator("select[name='field.outcome']").is_disabled()  # not hers yet
    card = page.locator(".customer-card")
    assert "上海明远科技有限公司" in card.inner_text() and "张伟" in card.inner_text()
    page.click("form[action$='/claim'] button")
    assert "The task is yours now." in page.inner_text(".flashes")

    page.select_option("select[name='field.outcome']", "reached")
    page.fill("input[name='field.csat']", "9")
    page.fill("input[name='field.note']", "周五回电")
    page.click("#task-form button.primary")
    csat = page.locator(".form-field[data-field=csat]")
    assert csat.locator(".field-error").inner_text() == "must be at most 5"
    assert page.locator(".form-field[data-field=outcome] .field-error").count() == 0
    assert page.input_value("select[name='field.outcome']") == "reached"  # the other values are kept
    assert page.input_value("input[name='field.note']") == "周五回电"
    screenshot(page, "task-with-error")

    page.fill("input[name='field.csat']", "5")
    page.click("#task-form button.primary")
    assert page.url.startswith(site.url("/inbox"))
    assert "Task completed: 电话回访" in page.inner_text(".flashes")
    assert page.locator("li.task").count() == 1
    instance = site.engine.instance(site.info["instances"]["waiting"])
    assert instance["status"] == "complete" and instance["variables"]["csat"] == 5


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5"
                       "ErkJggg==")  # one pixel


def test_an_agent_checks_in_at_the_customer_with_location_and_photo(visit, site, tmp_path):
    page = visit("li")
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 31.2305, "longitude": 121.4738, "accuracy": 20})
    photo = tmp_path / "shop.png"
    photo.write_bytes(PNG)
    page.locator("li.task", has_text="上海明远科技有限公司").locator("a.task-title").click()
    page.click("text=Check in here")
    assert page.input_value("select[name=customer]") == str(site.info["customers"]["mingyuan"])
    page.wait_for_function("document.querySelector('[name=\"field.where.latitude\"]').value !== ''")
    assert "Location found" in page.inner_text(".locate-status")
    page.click("#checkin-form button.primary")  # the summary is required
    assert page.locator(".form-field[data-field=summary] .field-error").inner_text() == "required"
    page.wait_for_function("document.querySelector('[name=\"field.where.latitude\"]').value !== ''")
    page.set_input_files("input[name='field.photo']", str(photo))
    assert page.inner_text(".file-pick .chosen") == "shop.png"
    page.fill("textarea[name='field.summary']", "拜访采购经理，确认下季度订单")
    screenshot(page, "checkin")
    page.click("#checkin-form button.primary")
    assert "Checked in at 上海明远科技有限公司." in page.inner_text(".flashes")
    assert "/tasks/" in page.url  # back where she came from
    from engine.customers.checkins import list_checkins

    made, _total = list_checkins(site.engine, site.info["customers"]["mingyuan"])
    assert len(made) == 1 and made[0]["user"] == "li" and not made[0]["far_from_customer"]
    assert len(made[0]["values"]["photo"]) == 1 and made[0]["values"]["summary"].startswith("拜访")


def test_the_inbox_filters_by_customer_and_process(visit, site):
    page = visit("li")
    page.fill("input[name=customer]", "云帆")
    page.wait_for_function("document.querySelectorAll('li.task').length === 1")  # htmx swaps the list
    assert "杭州云帆贸易有限公司" in page.inner_text("#inbox") and "customer=" in page.url
    page.fill("input[name=customer]", "没有这家公司")
    page.wait_for_selector("#inbox .empty")
    assert "No customer you can see matches" in page.inner_text("#inbox")
    page.goto(site.url("/inbox?scope=mine"))
    assert "Nothing to do here." in page.inner_text("#inbox")
    page.goto(site.url("/inbox"))
    page.locator("li.task", has_text="上海明远科技有限公司").locator("button:has-text('Claim')").click()
    page.wait_for_selector("#inbox .flash.ok")  # claimed in place (htmx): the list comes back with it
    assert page.url == site.url("/inbox") and "The task is yours now." in page.inner_text("#inbox")
    assert page.locator("li.task", has_text="上海明远科技有限公司").locator(".tag.mine").count() == 1


# ---- the supervisor --------------------------------------------------------------------------
def test_a_supervisor_sees_where_an_instance_waits_and_where_it_failed(visit, site):
    page = visit("boss")
    assert "客户回访" in page.inner_text("main")  # the cockpit: running instances of the process
    assert page.locator("h2:has-text('Open incidents') .count").inner_text() == "1"
    screenshot(page, "cockpit")

    page.goto(site.url(f"/instances/{site.info['instances']['waiting']}"))
    page.wait_for_selector("#diagram[data-state=ready]")
    active = page.locator("#diagram g.djs-element.fu-active")
    # the user task and the timer on its edge wait; nothing else is marked
    assert {active.nth(i).get_attribute("data-element-id") for i in range(active.count())} == {"call", "call_late"}
    assert page.locator("#diagram .bjs-powered-by").is_visible()  # bpmn.io's watermark stays
    assert "Open tasks" in page.inner_text("main") and "电话回访" in page.inner_text("main")
    screenshot(page, "instance")

    page.goto(site.url(f"/instances/{site.info['instances']['incident']}"))
    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator("#diagram g.djs-element.fu-incident[data-element-id=record]").count() == 1
    assert "A step failed at record" in page.inner_text(".incident-card")
    names = page.locator("table.vars th code").all_inner_texts()  # as rendered: a designer copies them into scripts
    assert names and all(n[0].islower() for n in names if n[0].isalpha()), names
    page.click("text=Retry")  # still fails: the cause is in the variables
    assert page.locator(".status.s-error").count() == 1


def test_a_supervisor_suspends_instances_in_a_batch(visit, site):
    page = visit("boss")
    page.goto(site.url("/instances?status=user_input"))
    page.check("input[data-check-all]")
    page.click("button[value=suspend]")
    assert "2 instances suspended." in page.inner_text(".flashes")
    for label in ("waiting", "overdue"):
        assert site.engine.instance(site.info["instances"][label])["status"] == "suspended"


def test_a_supervisor_imports_customers_and_watches_a_background_import(visit, site, tmp_path):
    from workers.inprocess import run_due

    sheet = tmp_path / "新客户.csv"
    sheet.write_text("客户名称,联系电话,负责人\n宁波海曙文具有限公司,13811112222,li\n苏州园区电子有限公司,12,li\n",
                     encoding="utf-8")
    page = visit("boss")
    page.click("nav a:has-text('Imports')")
    page.set_input_files("input[name=file]", str(sheet))
    assert page.inner_text(".file-pick .chosen") == "新客户.csv"
    page.click("button[value=check]")
    assert "The file is checked: nothing was written." in page.inner_text("#report")
    page.set_input_files("input[name=file]", str(sheet))
    page.click("button[value=import]")
    assert re.search(r"/imports/\d+$", page.url), "the import's own page, which a reload does not post again"
    assert "The file is imported." in page.inner_text(".flashes")
    report = page.locator("#batch")
    assert re.search(r"1\s+new.*1\s+bad row\b", report.inner_text(), re.S)
    assert report.locator("tbody tr").first.inner_text().startswith("3\t联系电话")
    assert report.locator("a:has-text('Download the bad rows')").count() == 1
    screenshot(page, "import-applied")
    def customer_count():
        with site.engine.db.connect() as conn:
            return conn.execute(sa.text("select count(*) from customers")).scalar()
    before = customer_count()
    page.reload()
    assert page.locator("#batch").count() == 1 and customer_count() == before, "the reload imported nothing"
    page.click("nav a:has-text('Imports')")
    assert page.locator("table.imports tbody tr").count() == 1
    screenshot(page, "imports")

    # a background one: its page polls (htmx) until a worker has run it, then offers the revert
    token = page.get_attribute("meta[name=csrf-token]", "content")
    queued = page.request.post(site.url("/imports"), max_redirects=0, multipart={
        "csrf_token": token, "action": "import", "mode": "create", "background": "true",
        "file": {"name": "后台.csv", "mimeType": "text/csv",
                 "buffer": "客户名称,负责人\n温州瓯海鞋业有限公司,li\n".encode()}})
    assert queued.status == 302
    page.goto(site.url(queued.headers["location"]))
    assert page.inner_text(".status") == "queued" and page.locator("[role=progressbar]").count() == 1
    screenshot(page, "import-queued")
    run_due(site.engine)
    page.wait_for_selector(".status.i-applied", timeout=10_000)
    assert page.locator("[role=progressbar]").count() == 0 and "1 new" in page.inner_text(".kpis")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revert the import')")
    assert "The import is reverted (customers deleted: 1, restored: 0)." in page.inner_text(".flashes")
    screenshot(page, "import-reverted")

    phone = visit("boss", lang="zh", width=375, height=812)
    phone.goto(site.url("/imports"))
    assert phone.inner_text("h1") == "导入" and phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert "已撤销" in phone.inner_text("table.imports") and not english_left_in(visible_text(phone))
    screenshot(phone, "zh-phone-imports")


# ---- the designer ----------------------------------------------------------------------------
BROKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  id="d" targetNamespace="x">
  <bpmn:process id="broken" name="Broken" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="bad_script" />
    <bpmn:scriptTask id="bad_script" name="Bad"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="bad_script" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="di"><bpmndi:BPMNPlane id="p" bpmnElement="broken">
    <bpmndi:BPMNShape id="s1" bpmnElement="start"><dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s2" bpmnElement="bad_script"><dc:Bounds x="200" y="78" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s3" bpmnElement="end"><dc:Bounds x="360" y="100" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_a_designer_sees_why_a_file_cannot_be_deployed_then_deploys_a_new_version(visit, site, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_bytes(BROKEN)
    page = visit("dora")
    page.set_input_files("input[name=files]", str(broken))
    page.click("button[value=deploy]")
    problem = page.locator(".problem")
    assert "This cannot be deployed:" in problem.inner_text()
    assert "broken.bpmn" in problem.inner_text() and "bad_script" in problem.inner_text()
    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator("#diagram g.djs-element.fu-problem[data-element-id=bad_script]").count() == 1
    screenshot(page, "deploy-error")

    # written by hand: no diagram interchange, and a script with a syntax error
    bare = tmp_path / "bare.bpmn"
    bare.write_bytes(BROKEN.split(b"<bpmndi:BPMNDiagram")[0].replace(b"import os", b"x = 1\nx = x +")
                     + b"</bpmn:definitions>")
    page.set_input_files("input[name=files]", str(bare))
    page.click("button[value=deploy]")
    assert "syntax error on line 2 of the script" in page.inner_text(".problem")
    page.wait_for_selector("#diagram[data-state=failed]")
    note, legend = page.locator("#diagram .empty"), page.locator(".diagram-legend")
    assert note.inner_text() == "The diagram could not be drawn." and not legend.is_visible()
    box, drawn = page.locator("#diagram").bounding_box(), note.bounding_box()
    assert box["y"] <= drawn["y"] and drawn["y"] + drawn["height"] <= box["y"] + box["height"], "the note sits in its box"
    screenshot(page, "deploy-error-no-diagram")

    changed = tmp_path / "revisit.bpmn"
    changed.write_bytes(site.engine.definition_xml("revisit").replace("2 小时".encode(), "3 小时".encode()))
    page.set_input_files("input[name=files]", str(changed))
    page.click("button[value=deploy]")
    assert "Deployed 客户回访 as version 2." in page.inner_text(".flashes")
    page.click("table a:has-text('客户回访')")
    page.wait_for_selector("#diagram[data-state=ready]")
    versions = page.locator("table tbody tr")
    assert versions.count() == 2 and versions.nth(0).inner_text().startswith("v2")
    assert "3" in versions.nth(1).locator("td").nth(2).inner_text()  # the three seeded instances are on v1
    screenshot(page, "definition")


# ---- languages and phones --------------------------------------------------------------------
def test_the_pages_in_chinese_show_no_english(visit, site):
    page = visit(None, lang="zh")
    page.goto(site.url("/signin"))
    assert page.inner_text("h1") == "登录" and not english_left_in(visible_text(page))
    sign_in(page, site, "li")
    assert page.inner_text("h1") == "待办"
    assert "已逾期" in page.inner_text("li.task.overdue .badge")
    assert not english_left_in(visible_text(page)), english_left_in(visible_text(page))
    screenshot(page, "zh-inbox")

    page.locator("li.task", has_text="上海明远科技有限公司").locator("a.task-title").click()
    page.click("form[action$='/claim'] button")
    page.fill("input[name='field.csat']", "0")
    page.click("#task-form button.primary")
    assert page.locator(".form-field[data-field=csat] .field-error").inner_text() == "不能小于 1"
    assert page.locator(".form-field[data-field=outcome] .field-error").inner_text() == "必填"
    assert not english_left_in(visible_text(page)), english_left_in(visible_text(page))
    screenshot(page, "zh-task-with-error")

    phone = visit("li", lang="zh", width=375, height=812)
    assert phone.inner_text("h1") == "待办" and phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "zh-phone-inbox")

    boss = visit("boss", lang="zh")
    for path in ("/cockpit", "/instances", f"/instances/{site.info['instances']['incident']}", "/reports",
                 "/reports?report=leaderboard", "/imports", "/checkin", "/no-such-page"):
        boss.goto(site.url(path))
        assert not english_left_in(visible_text(boss)), (path, english_left_in(visible_text(boss)))
        if path.startswith("/instances/"):
            assert "审计记录" in boss.inner_text("main") and "故障" in boss.inner_text("main")
        if path == "/reports":
            screenshot(boss, "zh-reports")
    dora = visit("dora", lang="zh")
    for path in ("/designer", "/designer/revisit"):
        dora.goto(site.url(path))
        assert not english_left_in(visible_text(dora)), (path, english_left_in(visible_text(dora)))


def test_the_language_switch_is_remembered(visit, site):
    page = visit("li")  # an English browser
    assert page.inner_text("h1") == "Inbox"
    page.click("button[name=lang][value=zh_CN]")
    assert page.inner_text("h1") == "待办" and page.url.startswith(site.url("/inbox"))
    page.goto(site.url("/checkin"))
    assert page.inner_text("h1") == "打卡"
    page.click("button[name=lang][value=en]")
    assert page.inner_text("h1") == "Check-in"


def test_a_phone_sized_screen_needs_no_sideways_scrolling(visit, site):
    page = visit("li", width=375, height=812)
    wide = "document.documentElement.scrollWidth"
    assert page.evaluate(wide) <= 375
    screenshot(page, "phone-inbox")
    page.locator("a.task-title").first.click()
    assert page.evaluate(wide) <= 375
    assert page.locator("#task-form").bounding_box()["width"] <= 375
    screenshot(page, "phone-task")
    page.goto(site.url("/checkin"))
    assert page.evaluate(wide) <= 375
    screenshot(page, "phone-checkin")
    boss = visit("boss", width=375, height=812)
    boss.goto(site.url(f"/instances/{site.info['instances']['waiting']}"))
    boss.wait_for_selector("#diagram[data-state=ready]")
    assert boss.evaluate(wide) <= 375
    screenshot(boss, "phone-instance")


# ---- CSRF ------------------------------------------------------------------------------------
def test_a_post_without_the_csrf_token_is_refused(visit, site):
    page = visit("li")
    task = site.task_of("waiting")
    refused = page.request.post(site.url(f"/tasks/{task['id']}/claim"), form={"next": "/inbox"})
    assert refused.status == 400 and "The form has expired" in refused.text()
    assert site.task_of("waiting")["assignee"] is None
    token = page.get_attribute("meta[name=csrf-token]", "content")
    accepted = page.request.post(site.url(f"/tasks/{task['id']}/claim"), form={"csrf_token": token, "next": "/inbox"})
    assert accepted.ok and site.task_of("waiting")["assignee"] == "li"
