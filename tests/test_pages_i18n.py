"""The pages' two languages: every text the pages can show is in the catalog and translated, the compiled
catalog is the one committed, and what the engine says (form checks, conflicts) reads in Chinese."""
import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from api.pages import catalog as catalog_tool
from api_fixtures import *  # noqa: F401,F403
from conftest import bpmn_file
from engine.errors import Conflict, InvalidInput, NotFound
from engine.workflow import forms
from pages_support import english

PAGES = Path(__file__).resolve().parent.parent / "api" / "pages"
TRANSLATIONS = PAGES / "translations"
PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog():
    with open(PO, "rb") as source:
        return read_po(source, locale="zh_CN")


def _extracted():
    """The texts of the pages, as the catalog tool extracts them (api/pages/catalog.py)."""
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog_tool.extracted() if m.id}


def test_every_text_of_the_pages_is_translated_with_the_same_placeholders():
    catalog = _catalog()
    missing, wrong = [], []
    for msgid in sorted(_extracted()):
        message = catalog.get(msgid)
        translated = message.string if message is not None else None
        if isinstance(translated, tuple):
            translated = translated[0]
        if not translated:
            missing.append(msgid)
        elif set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(translated)):
            wrong.append((msgid, translated))
    assert missing == [], "run `.venv/bin/python -m api.pages.catalog` and translate these"
    assert wrong == []


def test_the_compiled_catalog_is_the_committed_po(tmp_path):
    catalog = _catalog()
    with open(tmp_path / "fresh.mo", "wb") as out:
        write_mo(out, catalog)
    with open(tmp_path / "fresh.mo", "rb") as fresh, open(PO.with_suffix(".mo"), "rb") as committed:
        expected = {str(m.id): str(m.string) for m in read_mo(fresh) if m.id}
        shipped = {str(m.id): str(m.string) for m in read_mo(committed) if m.id}
    assert shipped == expected, "compile it: pybabel compile -d api/pages/translations"


@pytest.fixture
def chinese(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        yield


FORM = [
    {"id": "count", "type": "long", "required": True, "min": 1, "max": 5},
    {"id": "price", "type": "double"},
    {"id": "ok", "type": "boolean"},
    {"id": "day", "type": "date"},
    {"id": "choice", "type": "enum", "enum": [{"id": "a", "name": "甲"}]},
    {"id": "text", "type": "string", "minlength": 3, "maxlength": 5},
    {"id": "fixed", "type": "string", "readonly": True},
]
BAD_VALUES = [{"count": "x", "price": "y", "ok": "maybe", "day": "soon", "choice": "b", "text": "ab", "fixed": "1",
               "extra": 1}, {"count": 0, "text": "abcdefg"}, {"count": 9, "text": 5}, {}]


def test_what_the_form_check_says_reads_in_chinese(chinese):
    from api.pages import messages

    said = set()
    for values in BAD_VALUES:
        with pytest.raises(InvalidInput) as refused:
            forms.validate(FORM, values)
        for reasons in refused.value.errors.values():
            said.update(reasons)
        said.add(refused.value.message)
    for reason in sorted(said):
        text, original = messages.translate(reason)
        assert original is None and not english(text), reason


def test_what_the_engine_says_about_tasks_and_instances_reads_in_chinese(engine, chinese):
    from api.pages import messages

    engine.deploy([bpmn_file("first_contact.bpmn")])
    instance_id = engine.start("first_contact", "C-1", {"owner": "li"})
    task_id = engine.instance(instance_id)["tasks"][0]["id"]
    engine.claim(task_id, "li")
    said = []
    for attempt in (lambda: engine.claim(task_id, "wang"), lambda: engine.unclaim(task_id, "wang"),
                    lambda: engine.task("no-such-task"), lambda: engine.instance("no-such-instance"),
                    lambda: engine.resume(instance_id), lambda: engine.retry(instance_id),
                    lambda: engine.definition("no_such_process")):
        with pytest.raises((Conflict, NotFound)) as refused:
            attempt()
        said.append(refused.value.message)
    engine.complete_task(task_id, {"outcome": "reached"}, actor="li")
    with pytest.raises(Conflict) as refused:
        engine.complete_task(task_id, {"outcome": "reached"}, actor="li")
    said.append(refused.value.message)
    engine.cancel(instance_id)
    with pytest.raises(Conflict) as refused:
        engine.suspend(instance_id)
    said.append(refused.value.message)
    for message in said:
        text, original = messages.translate(message)
        assert original is None and not english(text.replace("li", "")), message


def test_an_unknown_message_is_kept_aside_in_chinese_and_shown_as_is_in_english(app):
    from api.pages import messages

    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert messages.translate("the moon is made of cheese") == ("操作未能完成", "the moon is made of cheese")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert messages.translate("the moon is made of cheese") == ("the moon is made of cheese", None)


def test_a_script_with_a_syntax_error_is_said_as_one_with_its_line_not_as_a_sandbox_refusal(engine, chinese):
    """A designer who typed `x = x +` must read "syntax error, line 3", not "uses something the sandbox forbids"."""
    from api.pages import messages
    from engine.errors import DeploymentError

    broken = bpmn_file("script_failure.bpmn")[1].replace(b"</bpmn:script>", b"\nx = x +</bpmn:script>", 1)
    with pytest.raises(DeploymentError) as refused:
        engine.deploy([("broken.bpmn", broken)])
    reason = refused.value.reason  # what the designer page says (file, line and element beside it)
    text, original = messages.translate(reason)
    line = re.search(r"line (\d+)", reason).group(1)
    assert original is None and text == f"脚本第 {line} 行有语法错误", (reason, text)
