"""The task schemas dump through a compiled path (api/schemas.py `FastDump`); its output must be exactly
marshmallow's, for every form field the bundled SOPs declare and for odd values alike."""
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from api.schemas import workflow as s
from engine.workflow.parsing import SourceFile, parse_files

ROOT = Path(__file__).resolve().parent.parent


def _marshmallow_dump(schema, obj, many=None):
    """What marshmallow alone makes of it: FastDump switched off for the whole tree."""
    original = s.FastDump.dump
    s.FastDump.dump = lambda self, o, *, many=None: Schema.dump(self, o, many=many)
    try:
        return Schema.dump(schema, obj, many=many)
    finally:
        s.FastDump.dump = original


def _bundled_forms():
    forms = []
    for folder in (ROOT / "bpmn", ROOT / "tests" / "bpmn"):
        dmn = [SourceFile(p.name, p.read_bytes()) for p in folder.glob("*.dmn")]
        for path in sorted(folder.glob("*.bpmn")):
            try:
                bundle = parse_files([SourceFile(path.name, path.read_bytes()), *dmn])
            except Exception:  # noqa: BLE001 - the deliberately broken test diagrams
                continue
            for key in bundle.processes:
                spec, subprocess_specs = bundle.spec_for(key)
                for process in (spec, *subprocess_specs.values()):
                    for task_spec in process.task_specs.values():
                        if getattr(task_spec, "form_fields", None):
                            forms.append(list(task_spec.form_fields))
    return forms


def _task(**overrides):
    now = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=timezone.utc)
    task = {"id": str(uuid.uuid4()), "name": "联系客户 Call", "element_id": "call", "instance_id": str(uuid.uuid4()),
            "process_key": "first_contact", "business_key": "C-1", "lane": None,
            "candidate_groups": ["sales-east", "sales-west"], "assignee": None, "due_at": now + timedelta(hours=2),
            "created_at": now, "claimed_at": None, "form": []}
    task.update(overrides)
    return task


ODD_FORM = [
    {"id": "a", "label": "A", "type": "long", "default": 3, "required": 1, "enum": None, "min": 1, "max": Decimal("9.5"),
     "minlength": "2", "maxlength": 10.0, "readonly": "yes", "extra": "dropped"},
    {"id": 7, "label": b"bytes", "type": "enum", "required": False, "default": {"nested": [1, "x"]},
     "enum": [{"id": "x", "name": "X", "extra": 1}, {"id": 2, "name": None}, None]},
    {"id": "c", "label": "C", "type": "boolean", "required": "false", "readonly": 0, "min": None},
    {},  # every key missing
]


def _variants():
    naive = datetime(2026, 5, 4, 3, 2, 1)
    yield _task()
    yield _task(lane="销售 Sales", assignee="li", claimed_at=naive, due_at=None)
    yield _task(candidate_groups=[], business_key=None, form=ODD_FORM)
    yield _task(candidate_groups=["g", None, 5], id=uuid.uuid4(), created_at=naive.replace(tzinfo=timezone(timedelta(hours=8))))
    yield _task(candidate_groups=None, form=None)
    partial = _task()
    del partial["claimed_at"], partial["lane"]  # missing keys are left out, not dumped as None
    yield partial
    yield {**_task(), "instance": {"id": "x"}, "unknown": 1}
    for form in _bundled_forms():
        yield _task(form=form)


def test_bundled_sops_declare_forms_to_compare():
    assert len(_bundled_forms()) >= 10


@pytest.mark.parametrize("task", list(_variants()), ids=lambda t: str(len(t.get("form") or [])))
def test_a_task_dumps_exactly_as_marshmallow_would(task):
    schema = s.TaskSchema()
    assert schema.dump(task) == _marshmallow_dump(s.TaskSchema(), task)
    assert "_fast_dump_one" in schema.__dict__ and schema.__dict__["_fast_dump_one"] is not None


def test_pages_lists_and_completion_results_dump_exactly_as_marshmallow_would():
    tasks = list(_variants())
    page = {"items": tasks, "total": 4200, "page": 1, "page_size": 20}
    assert s.TaskPageSchema().dump(page) == _marshmallow_dump(s.TaskPageSchema(), page)
    assert s.TaskSchema(many=True).dump(tasks) == _marshmallow_dump(s.TaskSchema(many=True), tasks)
    assert s.TaskSchema().dump(tasks, many=True) == _marshmallow_dump(s.TaskSchema(), tasks, many=True)
    done = {"task_id": "t", "instance_id": "i", "instance_status": None, "next_tasks": tasks[:3]}
    assert s.CompletedSchema().dump(done) == _marshmallow_dump(s.CompletedSchema(), done)
    empty = {"task_id": "t", "instance_id": "i", "next_tasks": []}  # a missing key stays missing
    assert s.CompletedSchema().dump(empty) == _marshmallow_dump(s.CompletedSchema(), empty)


def test_a_schema_the_compiler_does_not_know_falls_back_to_marshmallow():
    class WithUnknownField(s.FastDump, Schema):
        id = fields.String()
        when = fields.TimeDelta()  # not compiled

    class WithDefault(s.FastDump, Schema):
        id = fields.String(dump_default="none")

    unknown, default = WithUnknownField(), WithDefault()
    assert unknown.dump({"id": 1, "when": timedelta(seconds=90)}) == {"id": "1", "when": 90}
    assert default.dump({}) == {"id": "none"}
    assert unknown.__dict__["_fast_dump_one"] is None and default.__dict__["_fast_dump_one"] is None
