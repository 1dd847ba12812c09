"""Deploying BPMN and DMN: versions, refusals that name the problem, and nothing stored on failure."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import bpmn_file
from engine import clock
from engine.errors import DeploymentError, NotFound
from engine.storage.schema import definitions, deployments

MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{body_id}" />
    {body}
    <bpmn:sequenceFlow id="f1" sourceRef="{body_id}" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""


def diagram(key="p", name="P", body='<bpmn:userTask id="work" name="Work" />', body_id="work"):
    return MINIMAL.format(key=key, name=name, body=body, body_id=body_id).encode()


def stored_counts(engine):
    with engine.db.connect() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(deployments)).scalar_one(),
                conn.execute(sa.select(sa.func.count()).select_from(definitions)).scalar_one())


def test_identical_content_keeps_the_version_and_changed_content_makes_the_next(engine):
    first = engine.deploy([("p.bpmn", diagram())])
    again = engine.deploy([("p.bpmn", diagram())])
    changed = engine.deploy([("p.bpmn", diagram(name="P renamed"))])
    assert [(d.key, d.version, d.changed) for d in first] == [("p", 1, True)]
    assert [(d.key, d.version, d.changed) for d in again] == [("p", 1, False)]
    assert [(d.key, d.version, d.changed) for d in changed] == [("p", 2, True)]
    assert stored_counts(engine) == (2, 2)
    assert engine.definition("p").name == "P renamed"
    assert engine.definition("p", version=1).name == "P"


def test_running_instances_stay_on_their_version_and_new_ones_take_the_latest(engine):
    engine.deploy([("p.bpmn", diagram())])
    old = engine.start("p")
    engine.deploy([("p.bpmn", diagram(body='<bpmn:userTask id="work2" name="New work" />', body_id="work2"))])
    new = engine.start("p")
    assert engine.instance(old)["version"] == 1
    assert [t["name"] for t in engine.instance(old)["tasks"]] == ["Work"]
    assert engine.instance(new)["version"] == 2
    assert [t["name"] for t in engine.instance(new)["tasks"]] == ["New work"]
    # The old instance still runs to its end on version 1.
    engine.complete_task(engine.instance(old)["tasks"][0]["id"])
    assert engine.instance(old)["status"] == "complete"


def test_broken_xml_names_the_file_and_line_and_stores_nothing(engine):
    broken = b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n' \
             b'<bpmn:process id="p">\n<bpmn:task id="a">\n</bpmn:process>\n'
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("good.bpmn", diagram(key="good")), ("lead.bpmn", broken)])
    assert caught.value.file == "lead.bpmn"
    assert caught.value.line == 5
    assert "lead.bpmn, line 5" in str(caught.value)
    assert stored_counts(engine) == (0, 0)
    with pytest.raises(NotFound):
        engine.definition("good")


def test_a_flow_to_a_missing_element_names_the_element(engine):
    bad = diagram().replace(b'targetRef="end"', b'targetRef="nowhere"')
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("p.bpmn", bad)])
    assert "nowhere" in str(caught.value) or caught.value.element == "f1"
    assert stored_counts(engine) == (0, 0)


def test_a_file_that_is_not_bpmn_is_refused(engine):
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("notes.bpmn", b"<html><body>hello</body></html>")])
    assert "notes.bpmn" in str(caught.value) and "not a BPMN" in str(caught.value)


def test_external_entities_are_refused_and_never_read(engine, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY leak SYSTEM "file://{secret}">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" name="&leak;" isExecutable="true"><bpmn:startEvent id="s" /></bpmn:process>
</bpmn:definitions>""".encode()
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("xxe.bpmn", xxe)])
    assert "DOCTYPE" in str(caught.value)
    assert "TOP-SECRET" not in str(caught.value)
    assert stored_counts(engine) == (0, 0)


def test_entity_expansion_bombs_are_refused(engine):
    lol = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10 if i else "lol"}">' for i in range(10))
    bomb = f"""<?xml version="1.0"?><!DOCTYPE d [{lol}]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="p" name="&l9;" isExecutable="true"><bpmn:startEvent id="s" /></bpmn:process></bpmn:definitions>""".encode()
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("bomb.bpmn", bomb)])
    assert "DOCTYPE" in str(caught.value)


@pytest.mark.parametrize("script, reason", [
    ("import os", "'import' is not allowed"),
    ("x = ().__class__.__bases__", "'__class__' is not allowed"),
    ("data = open('/etc/passwd').read()", "'open' is not available"),
    ("f = eval('1+1')", "'eval' is not available"),
    ("s = '{0.__class__}'.format(1)", "'format' is not allowed"),
    ("g = (i for i in [1]).gi_frame", "'gi_frame' is not allowed"),
])
def test_scripts_that_break_the_sandbox_rules_are_refused_naming_the_element(engine, script, reason):
    body = f'<bpmn:scriptTask id="bad_script"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("p.bpmn", diagram(body=body, body_id="bad_script"))])
    assert caught.value.element == "bad_script"
    assert caught.value.file == "p.bpmn"
    assert reason in str(caught.value)
    assert stored_counts(engine) == (0, 0)


def test_a_condition_that_imports_is_refused(engine):
    body = ('<bpmn:exclusiveGateway id="gw" default="f_other" />'
            '<bpmn:sequenceFlow id="f_cond" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>'
            '__import__("os").system("true")</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="f_other" sourceRef="gw" targetRef="end" />')
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("p.bpmn", diagram(body=body, body_id="gw"))])
    assert caught.value.element == "f_cond"


def test_validate_checks_without_storing(engine):
    processes = engine.validate([("p.bpmn", diagram())])
    assert [p.key for p in processes] == ["p"]
    assert stored_counts(engine) == (0, 0)
    with pytest.raises(DeploymentError):
        engine.validate([("p.bpmn", b"<nope")])


@pytest.mark.parametrize("timer, hours", [
    ("PT2H", 2),                               # Camunda Modeler writes this, unquoted
    ("'PT3H'", 3),                             # SpiffWorkflow's own quoted form
    ("timedelta(hours=hours_allowed)", 4),     # computed from data
])
def test_timer_bodies_work_as_literals_and_as_expressions(engine, timer, hours):
    body = ('<bpmn:userTask id="work" name="Work" />'
            '<bpmn:boundaryEvent id="late" attachedToRef="work"><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            '<bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="end" />')
    engine.deploy([("p.bpmn", diagram(body=body))])
    before = clock.now()
    instance = engine.instance(engine.start("p", variables={"hours_allowed": 4}))
    due = instance["tasks"][0]["due_at"]
    assert timedelta(hours=hours) <= due - before < timedelta(hours=hours, seconds=5)
    assert [t["due_at"] for t in instance["timers"]] == [due]


def test_a_date_without_offset_is_read_in_the_configured_time_zone(engine):
    body = ('<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
            '<bpmn:timeDate>2030-01-01T09:00:00</bpmn:timeDate></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>')
    engine.deploy([("p.bpmn", diagram(body=body, body_id="wait"))])
    instance = engine.instance(engine.start("p"))
    # 09:00 in Asia/Shanghai (the tests' FOLLOWUP_TIMEZONE) is 01:00 UTC.
    assert instance["timers"][0]["due_at"].isoformat() == "2030-01-01T01:00:00+00:00"


def test_camunda_form_fields_candidate_groups_and_assignee_reach_the_task(engine):
    engine.deploy([bpmn_file("first_contact.bpmn")])
    task = engine.instance(engine.start("first_contact", variables={"owner": "li"}))["tasks"][0]
    assert task["candidate_groups"] == ["sales-east", "sales-west"]
    assert [(f["id"], f["type"], f["required"]) for f in task["form"]] == [
        ("outcome", "enum", True), ("note", "string", False)]
    assert [o["id"] for o in task["form"][0]["enum"]] == ["reached", "no_answer"]
    engine.complete_task(task["id"], {"outcome": "reached"}, actor="wang")
    qualify = engine.instance(task["instance_id"])["tasks"][0]
    assert qualify["assignee"] == "li"


def test_a_decision_table_routes_by_data(engine):
    engine.deploy([bpmn_file("routed_lead.bpmn"), bpmn_file("routing.dmn")])
    east = engine.instance(engine.start("routed_lead", variables={"region": "east"}))
    north = engine.instance(engine.start("routed_lead", variables={"region": "north"}))
    assert east["variables"]["team"] == "sales-east"
    assert north["variables"]["team"] == "sales-west"


def test_a_business_rule_task_without_its_table_is_refused(engine):
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([bpmn_file("routed_lead.bpmn")])
    assert "route_lead" in str(caught.value)
