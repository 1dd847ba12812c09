"""Small diagrams built in code for the hostile-input tests (tests/test_hostile__*.py)."""
from xml.sax.saxutils import escape

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_{key}" targetNamespace="http://bpmn.io/schema/bpmn">\n')


def script_process(key, script, *, then_user_task=True, groups="sales-east"):
    """start -> script task 'run' (the script) -> user task 'check' -> end."""
    tail = (f'<bpmn:userTask id="check" name="Check" camunda:candidateGroups="{groups}" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />') if then_user_task else ""
    after = "check" if then_user_task else "end"
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="run" />
<bpmn:scriptTask id="run" name="Run"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f1" sourceRef="run" targetRef="{after}" />{tail}
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def user_then_script_process(key, script, groups="sales-east"):
    """start -> user task 'enter' -> script task 'run' -> user task 'check' -> end."""
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="enter" />
<bpmn:userTask id="enter" name="Enter" camunda:candidateGroups="{groups}" />
<bpmn:sequenceFlow id="f1" sourceRef="enter" targetRef="run" />
<bpmn:scriptTask id="run" name="Run"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f2" sourceRef="run" targetRef="check" />
<bpmn:userTask id="check" name="Check" camunda:candidateGroups="{groups}" />
<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def loop_process(key):
    """A script -> gateway -> script cycle that never waits: `n` (start it with n=0) counts up for ever."""
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="count" />
<bpmn:scriptTask id="count" name="Count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f1" sourceRef="count" targetRef="again" />
<bpmn:exclusiveGateway id="again" default="back" />
<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="count" />
<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="end"><bpmn:conditionExpression>n &lt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def multi_instance_process(key, cardinality):
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="each" />
<bpmn:scriptTask id="each" name="Each"><bpmn:multiInstanceLoopCharacteristics>
<bpmn:loopCardinality>{escape(cardinality)}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f1" sourceRef="each" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def cycle_boundary_process(key, cycle):
    """A user task 'wait' with a non-interrupting timer cycle 'tick' on it."""
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait" />
<bpmn:userTask id="wait" name="Wait" camunda:candidateGroups="sales-east" />
<bpmn:boundaryEvent id="tick" attachedToRef="wait" cancelActivity="false">
<bpmn:timerEventDefinition><bpmn:timeCycle>{escape(cycle)}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:sequenceFlow id="f2" sourceRef="tick" targetRef="ticked" /><bpmn:endEvent id="ticked" />
<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def calling_process(key, calls):
    """A process whose only activity is a call activity 'call' of process `calls`."""
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="call" />
<bpmn:callActivity id="call" calledElement="{calls}" />
<bpmn:sequenceFlow id="f1" sourceRef="call" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())
