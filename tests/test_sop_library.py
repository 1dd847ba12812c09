"""Every SOP file opens in a modeler (DI for every flow node and flow), parses and deploys; service tasks
naming unknown operations or parameters are refused at deploy time, naming the element."""
import pytest
from lxml import etree
from sop_support import LIBRARY, deploy_library, library_files

from engine.errors import DeploymentError

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
FLOW_NODES = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask", "manualTask",
              "task", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
              "eventBasedGateway"}
FILES = sorted(p.name for p in LIBRARY.glob("*.bpmn"))


def test_the_library_has_every_sop():
    assert {"lead_assignment.bpmn", "complaint_escalation.bpmn", "renewal_reminder.bpmn", "care_revisit.bpmn",
            "service_ticket.bpmn", "checkin_watch.bpmn", "churn_watch.bpmn", "followup_task.bpmn"} <= set(FILES)
    assert (LIBRARY / "lead_routing.dmn").exists()


@pytest.mark.parametrize("name", FILES)
def test_every_flow_node_and_flow_has_diagram_interchange(name):
    root = etree.parse(str(LIBRARY / name)).getroot()
    nodes = {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(BPMN)
             and e.tag[len(BPMN):] in FLOW_NODES}
    flows = {e.get("id") for e in root.iter(f"{BPMN}sequenceFlow")}
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{DI}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{DI}BPMNEdge")}
    assert nodes and flows
    assert nodes - shapes.keys() == set(), "flow nodes without a shape"
    assert flows - edges.keys() == set(), "sequence flows without an edge"
    for flow in flows:
        assert len(edges[flow].findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, flow
    for lane in root.iter(f"{BPMN}lane"):
        assert lane.get("id") in shapes and lane.get("name"), "lanes are drawn and named"
    planes = list(root.iter(f"{DI}BPMNPlane"))
    assert len(planes) == 1 and planes[0].get("bpmnElement") in {e.get("id") for e in root.iter()}


def test_the_whole_library_deploys(engine):
    deploy_library(engine)
    deployed = {d.key for d in engine.list_definitions()[0]}
    assert {"lead_assignment", "complaint_escalation", "renewal_reminder", "care_revisit", "service_ticket",
            "checkin_watch", "churn_watch", "followup_task"} <= deployed


def test_a_followup_task_started_by_hand_without_a_due_waits_a_day_as_its_page_says(engine):
    """docs/sops/followup_task.md: `due` defaults to P1D. Started with nothing, it waited for nobody: the
    overdue timer's `due` was undefined, an incident at the start."""
    from datetime import timedelta

    from engine import clock

    deploy_library(engine)
    started = engine.instance(engine.start("followup_task", variables={}))
    assert started["status"] == "user_input" and started["incident"] is None, started["incident"]
    [timer] = started["timers"]
    assert abs(timer["due_at"] - (clock.now() + timedelta(days=1))) < timedelta(minutes=1)
    assert (started["variables"]["due"], started["variables"]["kind"]) == ("P1D", "follow_up")
    two_hours = engine.instance(engine.start("followup_task", variables={"title": "回访", "due": "PT2H"}))
    assert abs(two_hours["timers"][0]["due_at"] - (clock.now() + timedelta(hours=2))) < timedelta(minutes=1)


def _service_task(extension):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_it" />
    {extension}
    <bpmn:sequenceFlow id="f2" sourceRef="call_it" targetRef="end" /><bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_an_unknown_camunda_topic_becomes_an_external_task_the_instance_waits_at(engine):
    xml = _service_task('<bpmn:serviceTask id="call_it" camunda:type="external" camunda:topic="asign_lead" />')
    deployed = engine.deploy([("typo.bpmn", xml)])
    [warning] = [w for w in deployed.warnings if w["rule"] == "external-task"]
    assert warning["element"] == "call_it" and "did you mean the built-in operation 'assign_lead'" in warning["message"]
    instance = engine.instance(engine.start("p"))
    assert instance["status"] == "waiting" and instance["active_element_ids"] == ["call_it"]
    assert [t["topic"] for t in engine.list_external_tasks(None, instance_id=instance["id"])] == ["asign_lead"]


def test_an_unknown_spiff_operator_becomes_an_external_task(engine):
    xml = _service_task('<bpmn:serviceTask id="call_it"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
                        'id="send_fax" resultVariable="r"><spiffworkflow:parameters /></spiffworkflow:serviceTaskOperator>'
                        '</bpmn:extensionElements></bpmn:serviceTask>')
    engine.deploy([("fax.bpmn", xml)])
    instance_id = engine.start("p")
    assert [t["topic"] for t in engine.list_external_tasks(None, instance_id=instance_id)] == ["send_fax"]


def _external(topic, **params):
    inputs = "".join(f'<camunda:inputParameter name="{k}">{v}</camunda:inputParameter>' for k, v in params.items())
    return _service_task(f'<bpmn:serviceTask id="call_it" camunda:type="external" camunda:topic="{topic}">'
                         f'<bpmn:extensionElements><camunda:inputOutput>{inputs}</camunda:inputOutput>'
                         '</bpmn:extensionElements></bpmn:serviceTask>')


def test_missing_and_unknown_parameters_and_unsafe_expressions_are_refused(engine):
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("n.bpmn", _external("notify", channel="'sales'", colour="'red'"))])
    assert "missing parameter(s) text" in str(err.value) and "unknown parameter(s) colour" in str(err.value)
    with pytest.raises(DeploymentError) as err:
        engine.deploy([("u.bpmn", _external("notify", channel="__import__('os')", text="'x'"))])
    assert err.value.element == "call_it" and "refused" in str(err.value)


def test_a_failing_operation_raises_an_incident_naming_it_and_the_reason(engine):
    engine.deploy([("opp.bpmn", _external("create_opportunity", name="'续约'", customer_id="999"))])
    instance = engine.instance(engine.start("p"))
    assert instance["status"] == "error"
    assert "operation 'create_opportunity' failed" in instance["incident"]["message"]
    assert "no customer with id 999" in instance["incident"]["message"]
    assert instance["incident"]["element_id"] == "call_it"


def test_library_files_are_unicode_and_name_lanes_like_the_teams():
    text = (LIBRARY / "complaint_escalation.bpmn").read_text(encoding="utf-8")
    assert "受理投诉" in text and 'name="service"' in text and 'name="supervisors"' in text
    assert "<bpmn:timeDuration>PT30M</bpmn:timeDuration>" in text  # bare ISO literals, as Camunda Modeler writes
    assert library_files("lead_routing.dmn")[0][1].decode("utf-8").count("<rule ") == 4


def test_a_task_completed_around_an_incident_says_in_its_event_that_the_incident_is_over(engine):
    """A follow-up task whose overdue timer cannot be read (due 'tomorrow') is in error; the agent still does
    the work and completes it. The instance ends and its incident with it: the completion's event names the
    incident it closed, so that the supervisor's trail does not lose it without a word."""
    deploy_library(engine)
    instance_id = engine.start("followup_task", variables={"title": "回访", "due": "tomorrow"})
    failed = engine.instance(instance_id)
    assert failed["status"] == "error" and failed["incident"]["element_id"] == "task_overdue"
    engine.complete_task(failed["tasks"][0]["id"], {"result": "已回访"}, actor="li")
    done = engine.instance(instance_id)
    assert done["status"] == "complete" and done["incident"] is None
    last = engine.events(instance_id)[0][-1]
    assert last["action"] == "task_completed" and last["detail"]["incident_closed"]["element_id"] == "task_overdue"
