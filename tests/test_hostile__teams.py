"""Issue 11, team boundaries: a supervisor's rights end at their team's edge."""
import io

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import start
from hostile_support import HEAD


def _message_process(key, group):
    return (f"{key}.bpmn", (HEAD.format(key=key) + f'''<bpmn:message id="m" name="customer_replied" />
<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait" />
<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m" /></bpmn:intermediateCatchEvent>
<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="read" />
<bpmn:userTask id="read" name="Read the reply" camunda:candidateGroups="{group}" />
<bpmn:sequenceFlow id="f2" sourceRef="read" targetRef="end" />
<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>''').encode())


def test_a_supervisor_cannot_advance_another_teams_instance_with_a_message(team):
    files = [_message_process("service_reply", "service"), _message_process("sales_reply", "sales-east")]
    response = team.designer.post("/api/deployments", data={"files": [(io.BytesIO(c), n) for n, c in files]},
                                  content_type="multipart/form-data")
    assert response.status_code == 201
    theirs = start(team.sam, "service_reply", "C-14")
    ours = start(team.li, "sales_reply", "C-15")
    # boss (sales-east) names the service team's instance: as if nothing waited, and nothing moves
    refused = team.boss.post("/api/messages", json={"name": "customer_replied", "business_key": "C-14"})
    assert refused.status_code == 404
    assert team.chief.get(f"/api/instances/{theirs['id']}").get_json()["status"] == "waiting"
    # without a business key, only the boss's own team's instance moves
    sent = team.boss.post("/api/messages", json={"name": "customer_replied"})
    assert sent.status_code == 200 and sent.get_json()["delivered_to"] == [ours["id"]]
    assert team.chief.get(f"/api/instances/{theirs['id']}").get_json()["status"] == "waiting"
    # the service supervisor reaches it
    sent = team.chief.post("/api/messages", json={"name": "customer_replied", "business_key": "C-14"})
    assert sent.status_code == 200 and sent.get_json()["delivered_to"] == [theirs["id"]]
