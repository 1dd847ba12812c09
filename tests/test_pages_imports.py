"""The customer import page (api/pages/imports.py) with Flask's test client: upload to check or import,
the background batch with its polled progress, cancel, revert and their refusals said on the page, the
list, and the API's own reach (an agent 403, another team's supervisor 404)."""
import csv
import io
import re

import pytest
import sqlalchemy as sa

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import Caller
from engine.customers.schema import customers
from engine.customers.vocab import seed_defaults
from pages_support import Browser, signed_in
from workers.inprocess import run_due

BATCH = re.compile(r"^/imports/(\d+)$")


@pytest.fixture
def people(app, engine, identity):
    seed_defaults(engine)
    identity.add_user("li", "agent", ["sales-east"])

    class People:
        boss = signed_in(app, identity, "boss", "supervisor", ["sales-east", "supervisors"])
        chief = signed_in(app, identity, "chief", "supervisor", ["service"])
        agent = signed_in(app, identity, "wang", "agent", ["sales-east"])
        api = Caller(app.test_client(), identity.issue_token("boss")[1], "boss")
    return People


def _csv(count, bad=()):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客户名称", "联系电话", "负责人"])
    for i in range(count):
        writer.writerow([f"测试{i}号有限公司", "12" if i in bad else f"138{i:08d}", "li"])
    return out.getvalue().encode("utf-8")


def _upload(browser, data, **form):
    return browser.post("/imports", {"file": (io.BytesIO(data), "客户.csv"), "mode": "create", **form},
                        content_type="multipart/form-data")


def _customers(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one()


def _queued(browser, data, **form):
    answer = _upload(browser, data, action="import", background="true", **form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return int(BATCH.match(answer.headers["Location"]).group(1))


def test_a_supervisor_checks_a_file_then_imports_it_and_downloads_the_bad_rows(people, engine):
    page = people.boss.get("/imports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/imports" aria-current="page">Imports</a>' in html and 'enctype="multipart/form-data"' in html
    checked = _upload(people.boss, _csv(5, bad={3}), action="check")
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "The file is checked: nothing was written." in html
    assert re.search(r"<b>4</b> new.*<b class=\"late-text\">1</b> bad row<", html, re.S)
    assert re.search(r"<td>5</td><td>联系电话</td><td>[^<]+area code[^<]+</td>", html), "the sheet's row, its column, why"
    assert _customers(engine) == 0

    imported = _upload(people.boss, _csv(5, bad={3}), action="import")
    assert imported.status_code == 303, "the import's answer sends the browser on: a reload sends no file again"
    batch_id = int(BATCH.match(imported.headers["Location"]).group(1))
    html = people.boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "The file is imported." in html, "said once, on the batch's page"
    assert re.search(r"<b>4</b> new.*<b class=\"late-text\">1</b> bad row<", html, re.S)
    assert re.search(r"<td>5</td><td>联系电话</td><td>[^<]+area code[^<]+</td>", html), "its bad row, kept on the batch"
    assert f'href="/imports/{batch_id}/errors.csv"' in html and "Revert the import" in html
    again = people.boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "The file is imported." not in again and "<td>5</td><td>联系电话</td>" in again
    assert _customers(engine) == 4
    errors = people.boss.get(f"/imports/{batch_id}/errors.csv")
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    assert len(errors.get_data().decode("utf-8-sig").splitlines()) == 2
    listed = people.boss.get("/imports").get_data(as_text=True)
    assert re.search(rf'href="/imports/{batch_id}">客户.csv</a>.*?imported.*?4 new, 0 changed, 1 bad.*?boss', listed, re.S)


def test_a_file_the_importer_refuses_is_said_on_the_page(people, engine):
    answer = _upload(people.boss, "电话\n13812345678\n".encode(), action="import")
    assert answer.status_code == 422
    assert "the file has no column for the customer name" in answer.get_data(as_text=True)
    nothing = people.boss.post("/imports", {"mode": "create", "action": "import"})
    assert nothing.status_code == 422 and "Choose a file first." in nothing.get_data(as_text=True)
    assert _customers(engine) == 0


def test_a_background_import_shows_its_progress_until_it_ends(people, engine):
    batch_id = _queued(people.boss, _csv(6, bad={0}))
    page = people.boss.get(f"/imports/{batch_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "The file is queued" in html
    assert f'hx-get="/imports/{batch_id}/progress" hx-trigger="every 2s"' in html and "htmx.min.js" in html
    assert 'role="progressbar"' in html and "Cancel the import" in html and "Revert the import" not in html
    assert re.search(r'class="status i-queued">queued<', html)
    assert _customers(engine) == 0

    run_due(engine)
    polled = people.boss.get(f"/imports/{batch_id}/progress")
    html = polled.get_data(as_text=True)
    assert polled.status_code == 200 and html.lstrip().startswith("<section") and "<html" not in html
    assert "hx-trigger" not in html, "an ended batch polls no more"
    assert 'i-applied">imported<' in html and "<b>5</b> new" in html and "Cancel the import" not in html
    assert "Revert the import" in html and f'href="/imports/{batch_id}/errors.csv"' in html
    assert re.search(r"<td>2</td><td>联系电话</td>", html)
    assert _customers(engine) == 5


def test_cancel_stops_a_queued_import_and_a_second_cancel_is_said_on_the_page(people, engine):
    batch_id = _queued(people.boss, _csv(3))
    done = people.boss.post(f"/imports/{batch_id}/cancel")
    assert done.status_code == 302 and done.headers["Location"] == f"/imports/{batch_id}"
    html = people.boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "The import is cancelled." in html and "cancelled by boss before it wrote anything" in html
    assert "Cancel the import" not in html and "hx-trigger" not in html
    run_due(engine)
    assert _customers(engine) == 0
    again = people.boss.post(f"/imports/{batch_id}/cancel")
    assert again.status_code == 302
    html = people.boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert '<p class="flash error">the import has already ended: there is nothing to cancel</p>' in html


def test_revert_undoes_an_import_unless_its_customers_changed_and_says_so(people, engine):
    first = _queued(people.boss, _csv(2))
    run_due(engine)
    reverted = people.boss.post(f"/imports/{first}/revert")
    assert reverted.status_code == 302
    html = people.boss.get(f"/imports/{first}").get_data(as_text=True)
    assert "The import is reverted (customers deleted: 2, restored: 0)." in html and 'i-reverted">reverted<' in html
    assert "Revert the import" not in html and _customers(engine) == 0

    second = _queued(people.boss, _csv(2))
    run_due(engine)
    changed = people.api.get("/api/customers").get_json()["items"][0]
    assert people.api.patch(f"/api/customers/{changed['id']}", json={"note": "已拜访"}).status_code == 200
    refused = people.boss.post(f"/imports/{second}/revert")
    assert refused.status_code == 302
    html = people.boss.get(f"/imports/{second}").get_data(as_text=True)
    assert (f'<p class="flash error">the import cannot be reverted: customers {changed["id"]} were changed or used '
            f'since</p>') in html
    assert "Traceback" not in html and _customers(engine) == 2


def test_an_agent_is_refused_and_another_teams_supervisor_finds_no_such_import(people, engine):
    batch_id = _queued(people.boss, _csv(2))
    for url in ("/imports", f"/imports/{batch_id}", f"/imports/{batch_id}/progress"):
        refused = people.agent.get(url)
        assert refused.status_code == 403 and "your role may not do this" in refused.get_data(as_text=True), url
    assert people.agent.post(f"/imports/{batch_id}/cancel").status_code == 403
    assert _upload(people.agent, _csv(1), action="import").status_code == 403
    assert 'href="/imports"' not in people.agent.get("/inbox").get_data(as_text=True), "no Imports in an agent's nav"
    for url in (f"/imports/{batch_id}", f"/imports/{batch_id}/progress", f"/imports/{batch_id}/errors.csv"):
        missing = people.chief.get(url)
        assert missing.status_code == 404, url
        assert "no import here, or it is not yours to see" in missing.get_data(as_text=True)
    for action in ("cancel", "revert"):
        assert people.chief.post(f"/imports/{batch_id}/{action}").status_code == 404
    assert f'href="/imports/{batch_id}"' not in people.chief.get("/imports").get_data(as_text=True)
    assert people.boss.get(f"/imports/{batch_id}").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(people, engine):
    refused = people.boss.post("/imports", {"file": (io.BytesIO(_csv(2)), "客户.csv"), "action": "import"},
                               csrf=False, content_type="multipart/form-data")
    assert refused.status_code == 400 and "The form has expired" in refused.get_data(as_text=True)
    assert _customers(engine) == 0
    batch_id = _queued(people.boss, _csv(2))
    for action in ("cancel", "revert"):
        assert people.boss.post(f"/imports/{batch_id}/{action}", {"csrf_token": "forged"}, csrf=False).status_code == 400
    assert people.api.get(f"/api/imports/{batch_id}").get_json()["status"] == "queued"


def test_the_list_is_paged_newest_first(people, engine, monkeypatch):
    from api.pages import imports
    monkeypatch.setattr(imports, "PAGE_SIZE", 2)
    ids = [_queued(people.boss, _csv(1)) for _ in range(3)]
    first = people.boss.get("/imports").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<td><a href="/imports/(\d+)">', first)] == [ids[2], ids[1]]
    assert "Page 1 of 2" in first and 'href="/imports?page=2"' in first
    second = people.boss.get("/imports?page=2").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'<td><a href="/imports/(\d+)">', second)] == [ids[0]]


def test_the_page_reads_in_chinese(app, people, engine, identity):
    boss = Browser(app, headers={"Accept-Language": "zh-CN"})
    boss.sign_in("boss", "secret-boss")
    batch_id = _queued(boss, _csv(2))
    html = boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert '<span class="status i-queued">排队中</span>' in html and "取消导入" in html
    run_due(engine)
    listed = boss.get("/imports").get_data(as_text=True)
    assert '<span class="status i-applied">已导入</span>' in listed and 'aria-current="page">导入</a>' in listed
    boss.post(f"/imports/{batch_id}/cancel")
    said = boss.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert '<p class="flash error">此次导入已经结束，无需取消</p>' in said
